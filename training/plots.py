"""Matplotlib (Agg) figures for training and evaluation; every writer is atomic."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["plot_training_curves", "plot_confusion", "plot_steps_curve", "plot_tsne"]


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    from lrdif.sdk.fileio import atomic_write
    path = Path(path)
    fmt = (path.suffix or ".png")[1:]
    try:
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=120, bbox_inches="tight"))
    finally:
        _plt().close(fig)
    return path


def _f(x: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def plot_training_curves(csv_path: str | os.PathLike, png_path: str | os.PathLike, title: str = "") -> Path:
    """Loss / train accuracy and validation accuracy per degradation vs step from train_log.csv."""
    plt = _plt()
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    tr = [r for r in rows if r.get("phase") == "train"]
    va = [r for r in rows if r.get("phase") == "val"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    if tr:
        st = [_f(r["step"]) for r in tr]
        a1.plot(st, [_f(r["loss"]) for r in tr], label="loss")
        if any(_f(r.get("loss_kl")) > 0 for r in tr):
            a1.plot(st, [_f(r["loss_kl"]) for r in tr], label="KL")
        a1b = a1.twinx()
        a1b.plot(st, [_f(r["train_acc"]) for r in tr], color="tab:green", alpha=0.7, label="train acc")
        a1b.set_ylabel("train accuracy")
        a1b.set_ylim(0, 1)
    a1.set_xlabel("step")
    a1.set_ylabel("loss")
    a1.legend(loc="upper left")
    a1.set_title("training")
    if va:
        st = [_f(r["step"]) for r in va]
        for c in [c for c in va[0] if c.startswith("val_acc_")]:
            ys = [_f(r[c]) for r in va]
            a2.plot(st, ys, marker="o", ms=3, label=c[len("val_acc_"):],
                    lw=2.5 if c == "val_acc_mean" else 1.2)
        a2.legend()
    a2.set_xlabel("step")
    a2.set_ylabel("validation accuracy")
    a2.set_title("validation")
    a2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _save(fig, png_path)


def plot_confusion(cm: np.ndarray, labels: Sequence[str], png_path: str | os.PathLike, title: str = "",
                   normalise: bool = True) -> Path:
    """Confusion matrix (rows = true, columns = predicted); cells show row-% and counts."""
    plt = _plt()
    cm = np.asarray(cm, dtype=np.int64)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    k = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 * k + 2, 1.0 * k + 1.2))
    ax.imshow(norm if normalise else cm, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{100 * norm[i, j]:.0f}%\n{cm[i, j]}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title)
    return _save(fig, png_path)


def plot_steps_curve(steps: Sequence[int], accs: dict[str, Sequence[float]] | Sequence[float],
                     png_path: str | os.PathLike, title: str = "Accuracy vs diffusion iterations") -> Path:
    """Fig. 6: accuracy vs number of reverse-diffusion iterations (one line per degradation)."""
    plt = _plt()
    if not isinstance(accs, dict):
        accs = {"accuracy": list(accs)}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, ys in accs.items():
        ax.plot(list(steps), [100 * y for y in ys], marker="o", label=name)
    ax.set_xlabel("diffusion iterations T")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(list(steps))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return _save(fig, png_path)


def plot_tsne(emb2d: np.ndarray, labels: np.ndarray, names: Sequence[str], png_path: str | os.PathLike,
              title: str = "t-SNE of the features", groups: np.ndarray | None = None,
              group_names: Sequence[str] | None = None) -> Path:
    """Figs. 4/5: 2-D embedding coloured by class (marker by group, e.g. clean vs degraded)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab10")
    markers = ["o", "^", "s", "x", "D", "v"]
    gs = np.zeros(len(labels), int) if groups is None else np.asarray(groups)
    for g in np.unique(gs):
        for c in range(len(names)):
            m = (labels == c) & (gs == g)
            if m.any():
                ax.scatter(emb2d[m, 0], emb2d[m, 1], s=8, color=cmap(c % 10), marker=markers[g % len(markers)],
                           alpha=0.7, label=names[c] if g == gs.min() else None)
    ax.legend(markerscale=2, fontsize=8, loc="best")
    if group_names is not None and groups is not None:
        ax.set_title(f"{title}\nmarkers: " + ", ".join(f"{markers[i % len(markers)]} {n}" for i, n in enumerate(group_names)))
    else:
        ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, png_path)
