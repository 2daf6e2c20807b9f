"""Graph rewrites that let litert-torch emit a channels-last (NHWC) graph LiteRT's XNNPACK runs well.

Both are exact and apply only to the TFLite target (the other exporters keep the model as is):

- `prelu_as_elementwise(module)`: litert-torch 0.10 lowers `aten.prelu` to RELU, NEG, RELU, MUL,
  SUB (five elementwise passes; LiteRT has no way in from litert-torch to its PRELU op). Each PReLU
  becomes `maximum(x, a*x)` when every slope a <= 1 (exact: for x < 0, a*x >= x), `minimum(x, a*x)`
  when every a >= 1, else `relu(x) + a*minimum(x, 0)` (exact as well; four ops).
- `register_nhwc_constant_pad()`: litert-torch's layout pass knows reflection / replication pads
  but not `constant_pad_nd`, so every zero pad (FaceMesh's TF "SAME" stride-2 pad, its blocks'
  channel padding of the skip branch) is wrapped in two TRANSPOSEs and keeps the ADD after it in
  NCHW. Registering the pad as layout-agnostic (its pad list permuted to NHWC) removes them.

Measured on FaceMesh's trunk at 192 px, 1 thread (`benchmarks` latency section reports the model):
1.08 -> 0.83 ms, TRANSPOSE ops 23 -> 2.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class ElementwisePReLU(nn.Module):
    """PReLU with per-channel slopes `alpha` (C,) on (B, C, H, W), as max / min / relu ops."""

    def __init__(self, alpha: torch.Tensor) -> None:
        super().__init__()
        a = alpha.detach().clone().float()
        self.mode = "max" if bool((a <= 1).all()) else "min" if bool((a >= 1).all()) else "relu"
        self.register_buffer("alpha", a.view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "max":
            return torch.maximum(x, self.alpha * x)
        if self.mode == "min":
            return torch.minimum(x, self.alpha * x)
        return torch.relu(x) + self.alpha * torch.clamp(x, max=0.0)


def prelu_as_elementwise(module: Any) -> tuple[Any, int]:
    """A copy of `module` with every PReLU (the model's `PReLU2d`, torch's `nn.PReLU`) replaced by
    its elementwise form, for 4-D (B, C, H, W) inputs; returns (copy, number replaced)."""
    from lrdif.training.model.facemesh import PReLU2d

    out = copy.deepcopy(module)
    replaced = 0
    for parent in list(out.modules()):
        for name, child in list(parent.named_children()):
            alpha = None
            if isinstance(child, PReLU2d):
                alpha = child.alpha
            elif isinstance(child, nn.PReLU):
                alpha = child.weight
            if alpha is not None:
                setattr(parent, name, ElementwisePReLU(alpha))
                replaced += 1
    return out, replaced


def register_nhwc_constant_pad() -> bool:
    """Teach litert-torch's layout pass that a 4-D `constant_pad_nd` can run channels-last.
    Idempotent; False (and nothing changed) when this litert-torch lacks the pass' registries."""
    try:
        from litert_torch._convert.fx_passes.optimize_layout_transposes_pass import layout_check, layout_rewrite
    except ImportError:
        return False
    aten = torch.ops.aten
    if aten.constant_pad_nd.default in layout_check.nhwcable_node_checkers:
        return True

    def first_arg(node):
        return [node.args[0]]

    def checker(node):
        pad = node.args[1]
        ok = layout_check.is_4d(node) and len(pad) in (4, 6) and layout_check.all_layout_sensitive_inputs_are_4d(node)
        return layout_check.NHWCable(ok, must_be=False)

    def pad_nhwc(x, pad, value=0.0):
        w, h = list(pad[:2]), list(pad[2:4])
        c = list(pad[4:6]) if len(pad) == 6 else [0, 0]
        return F.pad(x, c + w + h, value=value)      # NCHW (W, H, C) -> NHWC (C, W, H)

    def rewriter(node):
        node.target = pad_nhwc

    layout_check.layout_sensitive_inputs_getters.register(aten.constant_pad_nd)(first_arg)
    layout_check.nhwcable_node_checkers.register(aten.constant_pad_nd)(checker)
    layout_rewrite.rewriters.register(aten.constant_pad_nd)(rewriter)
    return True
