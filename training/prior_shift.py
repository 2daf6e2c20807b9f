"""Post-hoc class-prior shift (Menon et al. 2021, "post-hoc logit adjustment"): logits + s * log pi,
pi the class prior of the training targets, s chosen on held-out data (PublicTest) and folded into
the classifier's bias, so every artifact, the SDK and the mobile cores get it with no new operator.

s < 0 moves predictions towards rare classes (disgust, fear, contempt); s > 0 undoes part of a
logit-adjusted training loss (which trains a model that is already balanced, `--logit-adjust`).
The choice rule: among the grid, the s with the highest mean class accuracy whose overall accuracy
is within `tolerance` of the best overall accuracy on the grid (both under the FER+ majority
protocol where the data has votes). Mean class accuracy is what the rare classes need; the
tolerance keeps the headline accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = tuple(round(float(s), 2) for s in np.arange(-1.5, 1.0001, 0.05))
TOLERANCE = 0.01


def log_class_prior(votes: np.ndarray | None, labels: np.ndarray, classes: int) -> np.ndarray:
    """(K,) log prior of the training targets, by the training loss's own rule
    (`lrdif.training.step.class_log_prior`): of the FER+ vote distributions where votes exist (what
    `--soft-targets` trains on), else of the one-hot labels."""
    import torch

    from lrdif.training.datasets import vote_distribution
    from lrdif.training.step import class_log_prior

    if votes is not None:
        targets = vote_distribution(votes, classes)
    else:
        targets = np.eye(classes, dtype=np.float32)[np.asarray(labels)]
    if len(targets) == 0 or not np.isfinite(targets).all():
        raise ValueError(f"cannot form a {classes}-class prior from the training targets")
    return class_log_prior(torch.from_numpy(np.ascontiguousarray(targets))).double().numpy()


def accuracy_and_mean_class(logits: np.ndarray, labels: np.ndarray, classes: int) -> tuple[float, float]:
    """Accuracy and mean class accuracy of argmax(logits), as `lrdif-eval` computes them."""
    from lrdif.training.evaluate import compute_metrics

    m = compute_metrics(labels, np.asarray(logits).argmax(1), tuple(str(c) for c in range(classes)))
    return m["accuracy"], m["mean_class_accuracy"]


@dataclass(frozen=True)
class ShiftChoice:
    shift: float
    accuracy: float              # on the fitting data, after the shift
    mean_class_accuracy: float
    curve: tuple                 # ((s, accuracy, mean class accuracy), ...) over the grid


def choose_prior_shift(logits, labels, log_prior, grid=GRID, tolerance: float = TOLERANCE) -> ShiftChoice:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    lp = np.asarray(log_prior, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or lp.shape != (z.shape[1],) or y.shape != (z.shape[0],):
        raise ValueError(f"prior shift needs (N, K) logits, (N,) labels and a (K,) log prior; got "
                         f"{z.shape}, {y.shape}, {lp.shape}")
    if not grid:
        raise ValueError("prior shift: empty grid")
    curve = tuple((float(s), *accuracy_and_mean_class(z + s * lp, y, z.shape[1])) for s in grid)
    best_acc = max(a for _, a, _ in curve)
    s, a, m = max((c for c in curve if c[1] >= best_acc - tolerance), key=lambda c: (c[2], c[1]))
    return ShiftChoice(s, a, m, curve)


def shift_key(cfg) -> str:
    """Where a checkpoint records the shift folded into it: "prior_shift" (UDCformer's classifier) for
    a plain model, "ensemble_prior_shift" (the fork's classifier, shifting the ensemble's output) for a
    model with the FaceMesh fork, whose base keeps the shift it had before the fork was trained."""
    return "ensemble_prior_shift" if getattr(cfg, "fork_size", 0) else "prior_shift"


def fold_into_classifier(model, shift: float, log_prior) -> None:
    """Make the model's output logits + shift * log pi, folded into the bias of its last linear layer.
    Plain model: UDCformer's classifier (the graph's last operation), exact. Model with the fork
    (`log_softmax(z / T0) + w log_softmax(f)`): the fork classifier's bias += shift / w * log pi, which
    changes the output by shift * log pi minus a per-face constant (log_softmax's normaliser), so the
    probabilities and the labels are exactly those of logits + shift * log pi."""
    import torch

    fork = getattr(model, "fork", None)
    clf = fork.fork.head[-1] if fork is not None else model.udcformer.classifier
    scale = 1.0 / float(model.cfg.fork_weight) if fork is not None else 1.0
    lp = torch.as_tensor(np.asarray(log_prior), dtype=clf.bias.dtype)
    if lp.shape != clf.bias.shape:
        raise ValueError(f"log prior has {tuple(lp.shape)} classes, the classifier {tuple(clf.bias.shape)}")
    with torch.no_grad():
        clf.bias.add_(float(shift) * scale * lp)


@dataclass(frozen=True)
class WeightChoice:
    weight: float
    shift: ShiftChoice | None     # the shift chosen at that weight (None: no shift asked for)
    table: tuple                  # ((w, s, accuracy, mean class accuracy), ...) over the weights


def check_fork_weights(weights) -> tuple[float, ...]:
    """The fork-weight grid as floats; ValueError unless it is non-empty and every weight finite and > 0."""
    w = tuple(float(v) for v in weights)
    if not w or any(not np.isfinite(v) or v <= 0 for v in w):
        raise ValueError(f"fork weight: need a non-empty grid of positive weights, got {w}")
    return w


def choose_fork_weight(base, fork, labels, log_prior, weights, prior_shift: bool = True) -> WeightChoice:
    """Ensemble weight w of the FaceMesh fork, chosen jointly with the prior shift: for each w the
    ensemble log_softmax(z / T0) + w log_softmax(fork) (`base` and `fork` are those two (N, K) parts),
    its shift by `choose_prior_shift` (or none), then the w with the best accuracy after the shift
    (ties: the better mean class accuracy). The fork's training CLI picks w before any shift; a shift
    moves the optimum, so both are chosen on the same held-out logits."""
    a, f = np.asarray(base, np.float64), np.asarray(fork, np.float64)
    if a.shape != f.shape or a.ndim != 2:
        raise ValueError(f"fork weight: base and fork parts must both be (N, K), got {a.shape} and {f.shape}")
    check_fork_weights(weights)
    rows = []
    for w in weights:
        z = a + float(w) * f
        sc = choose_prior_shift(z, labels, log_prior) if prior_shift else None
        acc, mca = (sc.accuracy, sc.mean_class_accuracy) if sc else accuracy_and_mean_class(z, labels, a.shape[1])
        rows.append((float(w), sc, acc, mca))
    w, sc, _, _ = max(rows, key=lambda r: (r[2], r[3]))
    table = tuple((r[0], r[1].shift if r[1] else 0.0, r[2], r[3]) for r in rows)
    return WeightChoice(w, sc, table)
