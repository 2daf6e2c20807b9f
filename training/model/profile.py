"""Parameter and MAC counts (MACs = FLOPs / 2 from torch.utils.flop_counter on the inference module)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .config import LRDifConfig


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, cfg: LRDifConfig, batch: int = 1) -> int:
    """MACs of one stage-2 inference (LRDifInference) at batch `batch`. Counts conv / linear / matmul
    (FlopCounterMode); elementwise ops, softmax, exp are not counted."""
    from .lrdif import LRDif, LRDifInference
    inf = LRDifInference(model) if isinstance(model, LRDif) else model
    was = inf.training
    inf.eval()
    image = torch.zeros(batch, cfg.in_chans, cfg.input_size, cfg.input_size)
    lms = torch.full((batch, cfg.num_landmarks, 2), 0.5)
    with FlopCounterMode(display=False) as fc:
        inf(image, lms)
    inf.train(was)
    return fc.get_total_flops() // 2
