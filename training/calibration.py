"""Confidence calibration: one temperature T fitted on held-out logits (PublicTest), stored in the
artifact metadata (`ModelMetadata.temperature`) and applied by the SDK and the mobile cores as
softmax(logits / T) (`lrdif.sdk.backends.base.softmax`, the one owner of that formula).

Expected calibration error: 15 equal-width confidence bins, ECE = sum_b |acc_b - conf_b| n_b / N
(Guo et al. 2017). Reliability diagram: accuracy vs confidence per bin, as a PNG.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lrdif.sdk.backends.base import softmax

ECE_BINS = 15


def _check(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"logits must be a non-empty (N, K) array, got shape {z.shape}")
    if y.shape != (z.shape[0],) or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be (N,) integers, got {y.shape} {y.dtype}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must lie in [0, {z.shape[1]}), got [{y.min()}, {y.max()}]")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contain NaN or inf")
    return z, y.astype(np.int64)


def nll(logits, labels, temperature: float = 1.0) -> float:
    z, y = _check(logits, labels)
    p = softmax(z, temperature).astype(np.float64)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(logits, labels, lo: float = 0.05, hi: float = 20.0, iters: int = 80) -> float:
    """The T minimising the negative log-likelihood of softmax(logits / T): golden-section search
    on log T (the NLL is unimodal in T for fixed logits)."""
    z, y = _check(logits, labels)
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(z, y, np.exp(c)), nll(z, y, np.exp(d))
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(z, y, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(z, y, np.exp(d))
    return float(np.exp((a + b) / 2.0))


def reliability_bins(probs, labels, bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin: count, mean confidence, accuracy (NaN where empty)."""
    p = np.asarray(probs, dtype=np.float64)
    _, y = _check(np.log(np.clip(p, 1e-12, None)), labels)
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, bins) / count
        acc = np.bincount(idx, correct, bins) / count
    return {"count": count, "confidence": mean_conf, "accuracy": acc}


def expected_calibration_error(probs, labels, bins: int = ECE_BINS) -> float:
    r = reliability_bins(probs, labels, bins)
    n = r["count"].sum()
    gap = np.abs(np.nan_to_num(r["accuracy"]) - np.nan_to_num(r["confidence"]))
    return float((gap * r["count"]).sum() / n)


def plot_reliability(path: str | Path, conditions: dict[str, dict[str, np.ndarray]],
                     title: str = "Reliability (15 bins)") -> Path:
    """One panel per condition: accuracy vs confidence before and after temperature scaling.
    `conditions`: name -> {"labels": (N,), "before": probs (N, K), "after": probs (N, K)}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lrdif.sdk.fileio import atomic_write

    fig, axes = plt.subplots(1, len(conditions), figsize=(4 * len(conditions), 4), squeeze=False)
    centres = (np.arange(ECE_BINS) + 0.5) / ECE_BINS
    for ax, (name, c) in zip(axes[0], conditions.items()):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for key, tag, colour in (("before", "T = 1", "tab:red"), ("after", "calibrated", "tab:blue")):
            r = reliability_bins(c[key], c["labels"])
            ece = expected_calibration_error(c[key], c["labels"])
            ok = r["count"] > 0
            ax.plot(centres[ok], r["accuracy"][ok], marker="o", color=colour, label=f"{tag} (ECE {ece:.3f})")
        ax.set(title=name, xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    out = atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return out
