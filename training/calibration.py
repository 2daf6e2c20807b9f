"""Confidence calibration: one temperature T fitted on held-out logits (PublicTest), stored in the
artifact metadata (`ModelMetadata.temperature`) and applied by the SDK and the mobile cores as
softmax(logits / T) (`lrdif.sdk.backends.base.softmax`, the one owner of that formula).

Expected calibration error: 15 equal-width confidence bins, ECE = sum_b |acc_b - conf_b| n_b / N
(Guo et al. 2017). Reliability diagram: accuracy vs confidence per bin, as a PNG.
"""
from __future__ import annotations

import dataclasses

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


# ----------------------------------------------------------------------------- CLI

CONDITIONS = ("none", "udc-toled", "udc-poled", "lowlight")


def _condition_logits(model, stage: int, crops, kinds, seed: int, progress: bool, parts: bool = False) -> dict:
    from lrdif.training.evaluate import degraded_logits

    return {k: degraded_logits(model, stage, crops, k, seed, progress=progress, ensemble_parts=parts).double().numpy()
            for k in kinds}


def _check_fork_weight(checkpoint, cfg, ckpt) -> None:
    if not cfg.fork_size:
        raise ValueError(f"{checkpoint}: --fork-weights needs a checkpoint with the FaceMesh fork")
    if ((ckpt.get("meta") or {}).get("calibration") or {}).get("ensemble_prior_shift"):
        raise ValueError(f"{checkpoint}: an ensemble prior shift is folded in at the current fork weight; "
                         "changing the weight would rescale it")


def _choose_fork_weight(checkpoint, model, ckpt, sets, lp, fit: dict, test: dict, weights, prior_shift: bool):
    """Pick the fork's ensemble weight on PublicTest from the ensemble parts (`fit`, `test`: (N, 2K)
    per condition) jointly with the prior shift; set it in model.cfg; return the ensemble logits at
    that weight and the report entry."""
    from lrdif.training.prior_shift import choose_fork_weight

    k = model.cfg.num_classes
    idx, ym = sets["public"][2]
    pooled = np.concatenate([fit[c][idx] for c in CONDITIONS])
    choice = choose_fork_weight(pooled[:, :k], pooled[:, k:], np.concatenate([ym] * len(CONDITIONS)), lp,
                                tuple(weights), prior_shift)
    before, w = float(model.cfg.fork_weight), choice.weight
    model.cfg = dataclasses.replace(model.cfg, fork_weight=w)
    entry = {"weight": w, "before": before, "rule": "best FER+ majority accuracy on PublicTest (conditions pooled) "
             "after each weight's own prior shift; ties: better mean class accuracy",
             "table": [list(r) for r in choice.table]}
    ens = {name: {c: z[:, :k] + w * z[:, k:] for c, z in d.items()} for name, d in (("fit", fit), ("test", test))}
    return ens["fit"], ens["test"], entry


def _load_sets(model_cfg, data, cache_dir, limit: int, seed: int, progress: bool):
    """PublicTest and PrivateTest crops with their all-rows labels and FER+ majority rows, plus the
    log prior of the Training split's targets."""
    from lrdif.training.data import prepare_crops, resolve_data_path
    from lrdif.training.datasets import load_dataset
    from lrdif.training.evaluate import protocol_rows
    from lrdif.training.prior_shift import log_class_prior

    k = model_cfg.num_classes
    ds = load_dataset(resolve_data_path(data), None, k)
    if ds.split is None:
        raise ValueError(f"{ds.name}: calibration needs the PublicTest / PrivateTest split")
    crops, _ = prepare_crops(ds, size=model_cfg.input_size, cache_dir=cache_dir, progress=progress)
    rng = np.random.RandomState(seed)
    sets = {}
    for name, code in (("public", 1), ("private", 2)):
        idx = np.flatnonzero(ds.split == code)
        if limit and len(idx) > limit:
            idx = np.sort(rng.choice(idx, limit, replace=False))
        rows = protocol_rows(None if ds.votes is None else ds.votes[idx], ds.labels[idx], k)
        sets[name] = (crops.subset(idx), ds.labels[idx], rows.get("majority", rows["all"]))
    train = ds.split == 0
    lp = log_class_prior(None if ds.votes is None else ds.votes[train], ds.labels[train], k)
    return sets, lp


def _shift_report(choice, log_prior, test: dict, rows) -> dict:
    from lrdif.training.prior_shift import accuracy_and_mean_class

    idx, y = rows
    k = len(log_prior)
    per = {}
    for c, z in test.items():
        a0, m0 = accuracy_and_mean_class(z[idx], y, k)
        a1, m1 = accuracy_and_mean_class(z[idx] + choice.shift * log_prior, y, k)
        per[c] = {"accuracy_before": a0, "accuracy_after": a1, "mean_class_before": m0, "mean_class_after": m1}
    return {"shift": choice.shift, "log_prior": [float(v) for v in log_prior], "rule": "max mean class accuracy "
            "with accuracy within 0.01 of the grid's best (PublicTest, FER+ majority rows, conditions pooled)",
            "fit_accuracy": choice.accuracy, "fit_mean_class_accuracy": choice.mean_class_accuracy,
            "curve": [list(c) for c in choice.curve], "private_majority": per}


def calibrate(checkpoint: str | Path, out_dir: str | Path, data=None, cache_dir=None, limit: int = 0,
              seed: int = 0, progress: bool = True, prior_shift: bool = False, mirror_average: bool = False,
              fork_weights: tuple[float, ...] | None = None) -> dict:
    """Optionally choose a class-prior shift (`lrdif.training.prior_shift`) on PublicTest, then fit
    T on PublicTest (all conditions pooled: one artifact, one T) on the shifted logits; ECE before/after
    on PrivateTest per condition; writes calibration.json and reliability.png into `out_dir`. With
    `fork_weights` (a fork checkpoint) the fork's ensemble weight is chosen first, jointly with the shift
    (`_choose_fork_weight`); the report's "fork_weight" holds it (store it with `store_temperature`)."""
    import json

    from lrdif.sdk.fileio import atomic_write_bytes
    from lrdif.training.checkpoint import load_checkpoint
    from lrdif.training.prior_shift import choose_prior_shift, shift_key

    model, cfg, ckpt = load_checkpoint(checkpoint)
    if prior_shift and (ckpt.get("meta") or {}).get("calibration", {}).get(shift_key(cfg)):
        raise ValueError(f"{checkpoint}: a prior shift is already folded into this checkpoint")
    if fork_weights:
        _check_fork_weight(checkpoint, cfg, ckpt)
    if mirror_average:                       # fit on the logits the mirror-averaged artifact will emit
        cfg = model.cfg = dataclasses.replace(cfg, mirror_average=True)
    stage = int(ckpt.get("stage", 2))
    sets, lp = _load_sets(cfg, data, cache_dir, limit, seed, progress)
    parts = bool(fork_weights)
    fit = _condition_logits(model, stage, sets["public"][0], CONDITIONS, seed, progress, parts)
    test = _condition_logits(model, stage, sets["private"][0], CONDITIONS, seed + 1, progress, parts)
    report = {"checkpoint": str(checkpoint), "fitted_on": "PublicTest, all conditions pooled", "bins": ECE_BINS,
              "mirror_average": bool(cfg.mirror_average)}
    if parts:
        fit, test, report["fork_weight"] = _choose_fork_weight(checkpoint, model, ckpt, sets, lp, fit, test,
                                                               fork_weights, prior_shift)
    shift = 0.0
    if prior_shift:
        idx, ym = sets["public"][2]
        choice = choose_prior_shift(np.concatenate([fit[k][idx] for k in CONDITIONS]),
                                    np.concatenate([ym] * len(CONDITIONS)), lp)
        shift = choice.shift
        report["prior_shift"] = _shift_report(choice, lp, test, sets["private"][2])
    fit = {k: z + shift * lp for k, z in fit.items()}
    test = {k: z + shift * lp for k, z in test.items()}
    y_fit = np.concatenate([sets["public"][1]] * len(CONDITIONS))
    t = fit_temperature(np.concatenate([fit[k] for k in CONDITIONS]), y_fit)
    y = sets["private"][1]
    report.update(temperature=t, n_fit=int(len(y_fit)), n_test=int(len(y)), conditions={})
    panels = {}
    for k in CONDITIONS:
        before, after = softmax(test[k], 1.0), softmax(test[k], t)
        report["conditions"][k] = {"ece_before": expected_calibration_error(before, y),
                                   "ece_after": expected_calibration_error(after, y),
                                   "nll_before": nll(test[k], y), "nll_after": nll(test[k], y, t),
                                   "accuracy": float((before.argmax(1) == y).mean())}
        panels[k] = {"labels": y, "before": before, "after": after}
    out = Path(out_dir)
    plot_reliability(out / "reliability.png", panels, f"PrivateTest reliability, T = {t:.3f} fitted on PublicTest")
    atomic_write_bytes(out / "calibration.json", (json.dumps(report, indent=1) + "\n").encode())
    return report


def store_temperature(checkpoint: str | Path, temperature: float, source: str, version: str | None = None,
                      prior_shift: tuple[float, list[float]] | None = None, mirror_average: bool = False,
                      fork_weight: float | None = None) -> None:
    """Record the fitted temperature in the checkpoint's meta (export writes it into every artifact),
    and with `prior_shift` = (s, log prior) fold s * log prior into the classifier's bias.
    The model version the artifacts carry is kept (or set to `version`): rewriting the file changes
    its sha256, by which unversioned shipped checkpoints were recognised. `mirror_average` switches
    the config's mirror-averaged inference on (the temperature must have been fitted with it);
    `fork_weight` sets the fork's ensemble weight (before any shift is folded at that weight)."""
    from lrdif.training.checkpoint import load_checkpoint, save_checkpoint
    from lrdif.training.inference import model_version
    from lrdif.training.prior_shift import fold_into_classifier, shift_key

    model, cfg, ckpt = load_checkpoint(checkpoint)
    if mirror_average:
        cfg = model.cfg = dataclasses.replace(cfg, mirror_average=True)
    cal = {"temperature": float(temperature), "source": source}
    old = (ckpt.get("meta") or {}).get("calibration") or {}
    if fork_weight is not None:
        _check_fork_weight(checkpoint, cfg, ckpt)
        cal["fork_weight"] = {"weight": float(fork_weight), "before": float(cfg.fork_weight), "source": source}
        cfg = model.cfg = dataclasses.replace(cfg, fork_weight=float(fork_weight))
    key = shift_key(cfg)
    if prior_shift and old.get(key):
        raise ValueError(f"{checkpoint}: a prior shift is already folded into this checkpoint")
    cal.update({k: old[k] for k in ("prior_shift", "ensemble_prior_shift", "fork_weight") if old.get(k) and k not in cal})
    if prior_shift:
        fold_into_classifier(model, prior_shift[0], prior_shift[1])
        cal[key] = {"shift": float(prior_shift[0]), "log_prior": [float(v) for v in prior_shift[1]]}
    meta = dict(ckpt.get("meta") or {}, calibration=cal, model_version=version or model_version(ckpt, checkpoint))
    save_checkpoint(checkpoint, model, cfg, int(ckpt["stage"]), ckpt.get("preset", "custom"), meta)


def _parse_weights(spec: str | None) -> tuple[float, ...] | None:
    if spec is None:
        return None
    if spec == "default":
        from lrdif.training.fork import WEIGHTS
        return tuple(WEIGHTS)
    from lrdif.training.prior_shift import check_fork_weights
    try:
        w = tuple(float(v) for v in spec.split(","))
    except ValueError:
        raise ValueError(f"--fork-weights: not a comma-separated list of numbers: {spec!r}") from None
    return check_fork_weights(w)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m lrdif.training.calibration",
                                 description="Fit the calibration temperature of a checkpoint on PublicTest; "
                                             "ECE and reliability diagrams on PrivateTest.")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped training/weights/lrdif-mobile.pt")
    ap.add_argument("--out", required=True, help="folder for calibration.json and reliability.png")
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--limit", type=int, default=0, help="images per split (0 = all)")
    ap.add_argument("--write-checkpoint", action="store_true", help="store T in the checkpoint's meta")
    ap.add_argument("--version", default=None, help="with --write-checkpoint: the model version artifacts carry")
    ap.add_argument("--prior-shift", action="store_true",
                    help="also choose a class-prior shift on PublicTest (lrdif.training.prior_shift); with "
                         "--write-checkpoint it is folded into the classifier bias (with the FaceMesh fork: the fork's, "
                         "shifting the ensemble's output; the base keeps its own shift)")
    ap.add_argument("--mirror-average", action="store_true",
                    help="switch on mirror-averaged inference (LRDifConfig.mirror_average) and calibrate its logits; "
                         "with --write-checkpoint it is stored in the checkpoint's config")
    ap.add_argument("--fork-weights", default=None, metavar="W1,W2,...",
                    help="with the FaceMesh fork: choose its ensemble weight from this grid on PublicTest, jointly "
                         "with --prior-shift (best accuracy after each weight's shift); 'default' = "
                         "lrdif.training.fork.WEIGHTS; with --write-checkpoint it is stored in the config")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    from lrdif.training.checkpoint import CheckpointError  # a ValueError too
    from lrdif.training.weights import default_checkpoint_path

    ckpt = Path(a.checkpoint) if a.checkpoint else default_checkpoint_path()
    try:
        weights = _parse_weights(a.fork_weights)
        r = calibrate(ckpt, a.out, a.data, a.cache_dir, a.limit, progress=not a.no_progress,
                      prior_shift=a.prior_shift, mirror_average=a.mirror_average, fork_weights=weights)
        if a.write_checkpoint:
            ps, fw = r.get("prior_shift"), r.get("fork_weight")
            store_temperature(ckpt, r["temperature"], f"PublicTest ({r['n_fit']} logits, all conditions)", a.version,
                              (ps["shift"], ps["log_prior"]) if ps else None, a.mirror_average,
                              fw["weight"] if fw else None)
    except (OSError, ValueError, CheckpointError) as e:
        print(f"lrdif calibration: error: {e}", file=sys.stderr)
        return 2
    if "fork_weight" in r:
        print(f"fork weight {r['fork_weight']['before']:g} -> {r['fork_weight']['weight']:g} (PublicTest)")
    if "prior_shift" in r:
        print(f"prior shift s = {r['prior_shift']['shift']:+.2f} (PrivateTest, majority rows):")
        for k, c in r["prior_shift"]["private_majority"].items():
            print(f"  {k:10s} acc {c['accuracy_before']:.4f} -> {c['accuracy_after']:.4f}   mean class acc "
                  f"{c['mean_class_before']:.4f} -> {c['mean_class_after']:.4f}")
    for k, c in r["conditions"].items():
        print(f"{k:10s} ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f}   acc {c['accuracy']:.4f}")
    print(f"temperature {r['temperature']:.4f} (written to {ckpt})" if a.write_checkpoint
          else f"temperature {r['temperature']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
