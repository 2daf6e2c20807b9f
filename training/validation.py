"""Validation of `lrdif-train`: accuracy per degradation kind on the fixed validation crops, with
the EMA weights when the run keeps an EMA."""
from __future__ import annotations

import copy

import numpy as np

from lrdif.training.inference import predict_logits

__all__ = ["Validator"]


class Validator:
    """`validator()` -> {kind: accuracy, ..., "mean": mean over kinds}; `weights_model()` -> the
    module whose weights are saved (the EMA copy when there is an EMA)."""

    def __init__(self, model, val, degradations: dict, stage: int, seed: int, meta, ema=None) -> None:
        self.model, self.val, self.degradations = model, val, degradations
        self.stage, self.seed, self.meta, self.ema = stage, seed, meta, ema
        self._ema_model = copy.deepcopy(model) if ema is not None else None

    def weights_model(self):
        if self.ema is None:
            return self.model
        self._ema_model.load_state_dict(self.ema.shadow)
        return self._ema_model

    def __call__(self) -> dict[str, float]:
        m, val = self.weights_model(), self.val
        accs = {}
        for k, deg in self.degradations.items():
            logits, _ = predict_logits(m, val.crops, val.landmarks, stage=self.stage, labels=val.labels,
                                       degradation=deg, seed=self.seed, meta=self.meta)
            accs[k] = float((logits.argmax(1) == val.labels).float().mean()) if len(val) else float("nan")
        accs["mean"] = float(np.mean([accs[k] for k in self.degradations])) if self.degradations else float("nan")
        return accs
