"""The FaceMesh emotion fork (issue 12): a second, face-pretrained opinion inside the emotion model.

MediaPipe FaceMesh's trunk (facemesh.py, Apache-2.0 weights) runs on the model's own crop: the
crop, back in [0, 1], is padded by a quarter of its side (edge replicate, FaceMesh's ROI framing of
1.5x the face) and resized to `LRDifConfig.fork_size`. Its stem and first `fork_tap` blocks keep
MediaPipe's weights (frozen while the fork trains); the blocks after the tap are copies fine-tuned
with a linear classifier. The emotion model's output is then the sum of log-probabilities

    logits = log_softmax(z / fork_base_temperature) + fork_weight * log_softmax(fork(crop))

with z UDCformer's logits (`combine`). Measured as `benchmarks.fused_head` (FUSED_HEAD.md); trained
by `python -m lrdif.training.fork`. Stage-1 / stage-2 training ignore the fork.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .facemesh import FaceMeshTrunk, FaceMeshTrunkConfig, _same_pad_stride2


class EmotionFork(nn.Module):
    """Trunk blocks after the tap (trainable) + dropout + linear classifier, on the tap's map."""

    def __init__(self, trunk: nn.Module, tap: int, classes: int = 8, drop: float = 0.3) -> None:
        super().__init__()
        self.blocks = copy.deepcopy(trunk.blocks[tap:])
        cfg = trunk.cfg                                       # the fork ends on the trunk's last map
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(drop),
                                  nn.Linear(cfg.feature_dim * cfg.feature_size ** 2, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.head(x)


def fork_input(x01: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, S, S) crops in [0, 1] -> FaceMesh's framing: padded by S/4 (edge replicate), resized
    to size x size (bilinear, no corner alignment)."""
    pad = x01.shape[-1] // 4
    x = F.pad(x01, (pad, pad, pad, pad), mode="replicate")
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


class FaceMeshFork(nn.Module):
    """shared: FaceMesh stem + first `tap` blocks; fork: `EmotionFork`. Input: the emotion model's
    normalised crop ((x - mean) / std); output: the fork's logits (B, classes)."""

    def __init__(self, size: int, tap: int, classes: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        trunk = FaceMeshTrunk(FaceMeshTrunkConfig(input_size=size))
        self.size, self.tap = size, tap
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.stem, self.stem_act = trunk.stem, trunk.stem_act
        self.shared = nn.ModuleList(trunk.blocks[:tap])
        self.fork = EmotionFork(trunk, tap, classes)

    def load_trunk(self, trunk: FaceMeshTrunk) -> None:
        """MediaPipe's weights (a converted FaceMeshTrunk) into the shared part and the fork's blocks."""
        self.stem.load_state_dict(trunk.stem.state_dict())
        self.stem_act.load_state_dict(trunk.stem_act.state_dict())
        for i, blk in enumerate(trunk.blocks):
            (self.shared[i] if i < self.tap else self.fork.blocks[i - self.tap]).load_state_dict(blk.state_dict())

    def forward_shared(self, image: torch.Tensor) -> torch.Tensor:
        x = fork_input(image * self.std + self.mean, self.size)
        x = self.stem_act(self.stem(_same_pad_stride2(x)))     # FaceMeshTrunk.forward_stem
        for blk in self.shared:
            x = blk(x)
        return x

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fork(self.forward_shared(image))


def combine(logits: torch.Tensor, fork_logits: torch.Tensor, base_temperature: float, weight: float) -> torch.Tensor:
    """The ensemble's logits: log_softmax(logits / T0) + w x log_softmax(fork_logits)."""
    return F.log_softmax(logits * (1.0 / base_temperature), dim=-1) + weight * F.log_softmax(fork_logits, dim=-1)


def build_fork(cfg) -> FaceMeshFork | None:
    """The fork an `LRDifConfig` asks for (None when fork_size is 0); it takes the crop back to [0, 1]
    by the SDK's normalisation (the metadata schema's mean / std)."""
    if not cfg.fork_size:
        return None
    from lrdif.sdk.metadata import ModelMetadata
    meta = ModelMetadata()
    return FaceMeshFork(cfg.fork_size, cfg.fork_tap, cfg.num_classes, mean=meta.mean, std=meta.std)
