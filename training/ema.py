"""Exponential moving average of a model's weights."""
from __future__ import annotations

import torch

__all__ = ["EMA"]


class EMA:
    """EMA of the weights with the usual warm-up: decay_n = min(decay, (1 + n) / (10 + n)), so the
    average forgets the random initialisation within a few hundred steps even in short runs."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if v.is_floating_point():
                s.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                s.copy_(v)

    def state_dict(self) -> dict:
        return self.shadow

    def load(self, shadow: dict, updates: int) -> None:
        self.shadow, self.updates = shadow, int(updates)
