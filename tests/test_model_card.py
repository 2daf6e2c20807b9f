"""The model card's verdict and distance-to-paper text come from the eval numbers, not fixed prose."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from lrdif.training.model_card import BARS, _paper_gap  # noqa: E402

RARE_PC = {"disgust": {"accuracy": 0.1, "n": 21}, "fear": {"accuracy": 0.2, "n": 98},
           "contempt": {"accuracy": 0.0, "n": 30}}


def _evals(acc: dict[str, float]) -> dict:
    ev = {}
    for proto in ("private", "public+private"):
        for cond, a in acc.items():
            ev[(proto, cond)] = {"accuracy": a, "n": 3573, "per_class": RARE_PC}
    return ev


def test_missed_bars_are_named_with_their_numbers():
    text = "\n".join(_paper_gap(_evals({"clean": 0.85, "udc-toled": 0.81, "udc-poled": 0.79, "lowlight": 0.70}),
                                {"epochs": 16, "teacher_meta": {"global_step": 435}}, 100, 2800))
    assert "does not reach the product bars" in text
    assert "udc-poled 0.790 < 0.80" in text and "lowlight 0.700 < 0.80" in text
    assert "clean 0.850" not in text and "udc-toled 0.810" not in text
    assert "28x smaller" in text and "stage 1: 435 steps, stage 2: 16 epochs" in text
    assert "149 of 3573" in text and "fear 0.20" in text


def test_reached_bars_are_reported():
    text = "\n".join(_paper_gap(_evals({k: b + 0.01 for k, b in BARS.items()}), {"epochs": 3}, 1, 1))
    assert "reaches the product bars" in text and "does not" not in text
