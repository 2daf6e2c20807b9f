"""`lrdif-eval`: accuracy / per-class / macro-F1 / confusion of an LRDif checkpoint on FERPlus (or any
`load_dataset` layout) under a simulated degradation, plus the paper's analyses:

* `--steps-curve 1,2,...,8` -- accuracy vs reverse-diffusion iterations (fig. 6), PNG + JSON;
* `--tsne PNG` -- t-SNE of the penultimate UDCformer features (figs. 4/5), clean vs degraded;
* `--ablation NAME=CKPT ...` -- the table-5 rows: each checkpoint (trained with the ablation flags of
  `lrdif-train`) evaluated on the same images, with its components read from the checkpoint,
  plus the inference-time variant "noise start" (chain from Z_T ~ N(0, I) instead of 0) of the
  main checkpoint.

FERPlus protocols (`--split`): `test` = PrivateTest (FER+ standard test set), `public` = PublicTest,
`public+private` = the LRDif paper's 7,178-image test protocol, `train`, `all`. A file without a
`split` only has `all` (the default then). Stage-1 checkpoints are evaluated with the ground-truth
label prior (LRDif_S1, table 5's first row) and flagged `uses_ground_truth_labels`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["main", "build_parser", "EvalError", "default_checkpoint", "compute_metrics", "evaluate_checkpoint",
           "protocol_rows", "metrics_by_protocol", "PROTOCOLS"]

ABLATION_NAMES = {
    "S1": "LRDif_S1", "V1": "LRDif_S2-V1", "V2": "LRDif_S2-V2", "V3": "LRDif_S2-V3 (ours)", "V4": "LRDif_S2-V4",
}


class EvalError(RuntimeError):
    """User-facing evaluation failure."""


def default_checkpoint() -> Path:
    """The shipped model (`lrdif.training.weights`)."""
    from lrdif.training.weights import default_checkpoint_path
    return default_checkpoint_path()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lrdif-eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="lrdif checkpoint (default: the shipped training/weights/lrdif-mobile.pt)")
    p.add_argument("--data", default=None, help="dataset (default: the shared FERPlus npz; see lrdif-train --help)")
    p.add_argument("--split", default=None,
                   help="test (PrivateTest) | public | private | public+private | train | all "
                        "(default: test when the data has a split, else all)")
    p.add_argument("--degradation", default="none",
                   help="none | udc-toled | udc-poled | lowlight, a comma list, or 'all' (each kind separately)")
    p.add_argument("--classes", type=int, choices=[7, 8], default=None, help="default: the checkpoint's")
    p.add_argument("--steps", type=int, default=None, help="reverse-diffusion iterations (default: the config's T)")
    p.add_argument("--start", choices=["zero", "noise"], default="zero",
                   help="Z_T of the reverse chain: 0 (the exported inference path) or N(0, I)")
    p.add_argument("--json", default=None, help="write the metrics JSON here")
    p.add_argument("--confusion", default=None, help="write the confusion-matrix PNG here")
    p.add_argument("--tsne", default=None, help="write a t-SNE PNG of the features here")
    p.add_argument("--tsne-size", type=int, default=800, help="images in the t-SNE subset")
    p.add_argument("--steps-curve", default=None, help="comma list of iteration counts, e.g. 1,2,3,4,5,6,8")
    p.add_argument("--steps-curve-png", default=None, help="PNG for --steps-curve (default beside --json or ./steps_curve.png)")
    p.add_argument("--ablation", nargs="+", default=None, metavar="NAME=CKPT",
                   help="table-5 rows: checkpoints to evaluate on the same images, e.g. S1=runs/stage1/best.pt "
                        "V1=runs/v1/best.pt V3=runs/stage2/best.pt")
    p.add_argument("--protocol", choices=PROTOCOLS, default="all",
                   help="rows behind the headline figures: all = every row (majority label); majority = the FER+ "
                        "official protocol (votes of 1 dropped, the top emotion must hold > half of the rest, "
                        "unknown/NF winners dropped). The JSON reports both whenever the data has FER+ votes")
    p.add_argument("--limit", type=int, default=None, help="evaluate a fixed random subset of this many images")
    p.add_argument("--seed", type=int, default=0, help="degradation / subset seed")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cache-dir", default=None, help="landmark cache folder")
    p.add_argument("--progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        report = run(args)
    except EvalError as e:
        print(f"lrdif-eval: error: {e}", file=sys.stderr, flush=True)
        return 2
    _print_summary(report)
    return 0


# ----------------------------------------------------------------------------- metrics


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, macro F1, mean class accuracy (the mean of the per-class recalls over the classes
    present) and per class recall / precision / F1 / n, and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
    k = len(labels)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    prec, rec, f1, sup = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), zero_division=0)
    present = sup > 0
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        "n": int(len(y_true)),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "macro_f1_all_classes": float(f1_score(y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0)),
        "mean_class_accuracy": float(rec[present].mean()) if present.any() else float("nan"),
        "per_class": {labels[i]: {"recall": float(rec[i]), "accuracy": float(rec[i]), "precision": float(prec[i]),
                                  "f1": float(f1[i]), "n": int(sup[i])} for i in range(k)},
        "confusion": cm.tolist(),
    }


PROTOCOLS = ("all", "majority")


def protocol_rows(votes: np.ndarray | None, labels: np.ndarray, classes: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{protocol: (row indices, true labels)}: "all" = every row with its label; "majority" = the
    FER+ official majority protocol (`lrdif.training.datasets.ferplus_majority`), only where the
    data has FER+ votes."""
    out = {"all": (np.arange(len(labels)), np.asarray(labels))}
    if votes is not None:
        from lrdif.training.datasets import ferplus_majority
        keep, winner = ferplus_majority(votes, classes)
        out["majority"] = (np.flatnonzero(keep), winner[keep])
    return out


def metrics_by_protocol(pred: np.ndarray, rows: dict[str, tuple[np.ndarray, np.ndarray]],
                        labels: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {p: compute_metrics(y, pred[idx], labels) for p, (idx, y) in rows.items()}


# ----------------------------------------------------------------------------- core


def _load_ckpt(path: Path):
    from lrdif.training.checkpoint import load_checkpoint
    if not path.is_file():
        raise EvalError(f"checkpoint not found: {path}" + (
            " (the shipped model is missing: train one with lrdif-train or pass --checkpoint)"
            if path == default_checkpoint() else ""))
    try:
        return load_checkpoint(str(path))
    except Exception as e:
        raise EvalError(f"cannot load checkpoint {path}: {e}") from None


def degraded_logits(model, stage: int, crops, kind: str, seed: int, steps: int | None = None, start: str = "zero",
                    bs: int = 256, progress: bool = False, features: bool = False, ensemble_parts: bool = False):
    """Logits of `crops` under degradation `kind` (deterministic given seed); with `features` also
    the pooled features; `ensemble_parts`: see `predict_logits`. Shared by lrdif-eval and the calibration CLI."""
    from lrdif.training.degrade import make_degradation
    from lrdif.training.inference import predict_logits
    deg = None if kind == "none" else make_degradation(kind)
    logits, feats = predict_logits(model, crops.crops, crops.landmarks, stage=stage, labels=crops.labels,
                                   degradation=deg, seed=seed, batch_size=bs, steps=steps, start=start,
                                   progress=progress, return_features=features, ensemble_parts=ensemble_parts)
    return (logits, feats) if features else logits


def _kinds(spec: str) -> list[str]:
    from lrdif.training.degrade import CANONICAL_KINDS, KINDS
    if spec.strip().lower() == "all":
        return list(CANONICAL_KINDS)
    ks = [k.strip() for k in spec.split(",") if k.strip()]
    bad = [k for k in ks if k not in KINDS]
    if bad or not ks:
        raise EvalError(f"--degradation: unknown kind(s) {bad or spec!r}; valid: {', '.join(KINDS)}, all")
    return ks


def evaluate_checkpoint(model, cfg, stage: int, crops, kinds: list[str], labels, *, seed: int = 0,
                        steps: int | None = None, start: str = "zero", bs: int = 256, progress: bool = False,
                        rows: dict | None = None) -> dict[str, Any]:
    """Metrics per degradation kind (of the `rows` protocol given first; default all rows), each
    with `protocols` = metrics under every protocol of `rows`."""
    rows = rows or protocol_rows(None, crops.labels.numpy(), len(labels))
    first = next(iter(rows))
    per = {}
    for k in kinds:
        pred = degraded_logits(model, stage, crops, k, seed, steps, start, bs, progress).argmax(1).numpy()
        by = metrics_by_protocol(pred, rows, labels)
        per[k] = dict(by[first], protocols=by)
    return per


@dataclass
class _Loaded:
    model: Any
    cfg: Any
    ckpt: dict
    path: Path
    stage: int
    classes: int
    labels: tuple


def _load_model(args) -> _Loaded:
    from lrdif.sdk.labels import labels_for
    ckpt_path = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    model, cfg, ckpt = _load_ckpt(ckpt_path)
    stage = int(ckpt.get("stage", 2))
    classes = args.classes or cfg.num_classes
    if classes != cfg.num_classes:
        raise EvalError(f"--classes {classes} does not match the checkpoint {ckpt_path} ({cfg.num_classes} classes)")
    if args.steps is not None:
        if args.steps < 1:
            raise EvalError("--steps must be >= 1")
        if stage == 1 or not cfg.diffusion:
            raise EvalError(f"--steps needs a stage-2 checkpoint trained with diffusion ({ckpt_path} is "
                            f"stage {stage}, diffusion={cfg.diffusion})")
    return _Loaded(model, cfg, ckpt, ckpt_path, stage, classes, labels_for(classes))


def _split_indices(args, ds_all, data_path) -> tuple[np.ndarray, str]:
    from lrdif.training.datasets import SPLIT_CODES, DatasetError, normalise_split
    try:
        want = normalise_split(args.split)
    except DatasetError as e:
        raise EvalError(str(e)) from None
    if args.split is None:
        want = "test" if ds_all.split is not None and (ds_all.split == 2).any() else None
    split = want or "all"
    if want is None:
        idx = np.arange(len(ds_all))
    elif ds_all.split is None:
        raise EvalError(f"{data_path}: has no train/test split information, so --split {args.split} cannot be "
                        f"selected (use --split all)")
    elif want == "public+private":
        idx = np.flatnonzero((ds_all.split == 1) | (ds_all.split == 2))
    else:
        idx = np.flatnonzero(ds_all.split == SPLIT_CODES[want])
    if len(idx) == 0:
        raise EvalError(f"{data_path}: no images for split {split!r}")
    if args.limit and len(idx) > args.limit:
        idx = np.sort(np.random.RandomState(args.seed).choice(idx, args.limit, replace=False))
    return idx, split


def _load_data(args, m: _Loaded):
    """(dataset rows evaluated, their crops, split name, data path, crop info)."""
    from lrdif.training.data import prepare_crops, resolve_data_path
    from lrdif.training.datasets import DatasetError, load_dataset

    data_path = resolve_data_path(args.data)
    try:
        # the landmark cache is keyed by the whole file's pixels: compute (or reuse) it for every image,
        # then select the split, so all splits share one cache
        ds_all = load_dataset(data_path, None, m.classes)
    except DatasetError as e:
        raise EvalError(str(e)) from None
    idx, split = _split_indices(args, ds_all, data_path)
    ds = ds_all.subset(idx, name=ds_all.name)
    try:
        crops_all, cinfo = prepare_crops(ds_all, size=m.cfg.input_size, cache_dir=args.cache_dir, progress=args.progress)
    except Exception as e:
        raise EvalError(f"cannot compute face crops for {data_path}: {e}") from None
    crops = crops_all.subset(idx)
    cinfo = dict(cinfo, faces_found=int(crops.found.sum()), faces_missing=int((~crops.found).sum()))
    return ds, crops, split, data_path, cinfo


def _headline(per: dict[str, Any], kinds: list[str], labels) -> dict[str, Any]:
    """The top-level figures: the kind's metrics, or the mean over several kinds."""
    if len(kinds) == 1:
        return dict(per[kinds[0]])
    mean = lambda key: float(np.mean([per[k][key] for k in kinds]))  # noqa: E731
    return {"accuracy": mean("accuracy"), "macro_f1": mean("macro_f1"),
            "mean_class_accuracy": mean("mean_class_accuracy"), "n": per[kinds[0]]["n"],
            "per_class": {c: {"recall": float(np.mean([per[k]["per_class"][c]["recall"] for k in kinds])),
                              "accuracy": float(np.mean([per[k]["per_class"][c]["recall"] for k in kinds])),
                              "n": per[kinds[0]]["per_class"][c]["n"]} for c in labels},
            "confusion": np.sum([per[k]["confusion"] for k in kinds], axis=0).tolist(),
            "per_degradation": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"],
                                    "mean_class_accuracy": v["mean_class_accuracy"]} for k, v in per.items()},
            "per_degradation_full": per}


def _protocol_summary(per: dict[str, Any], kinds: list[str]) -> dict[str, Any]:
    """{protocol: {n, accuracy, mean_class_accuracy, per_class_recall, per_degradation}} for the JSON."""
    out = {}
    for p in per[kinds[0]]["protocols"]:
        ms = {k: per[k]["protocols"][p] for k in kinds}
        out[p] = {"n": ms[kinds[0]]["n"],
                  "accuracy": float(np.mean([v["accuracy"] for v in ms.values()])),
                  "mean_class_accuracy": float(np.mean([v["mean_class_accuracy"] for v in ms.values()])),
                  "per_degradation": {k: {"accuracy": v["accuracy"], "mean_class_accuracy": v["mean_class_accuracy"],
                                          "macro_f1": v["macro_f1"],
                                          "per_class_recall": {c: r["recall"] for c, r in v["per_class"].items()},
                                          "confusion": v["confusion"]} for k, v in ms.items()}}
    return out


def run(args) -> dict[str, Any]:
    t0 = time.time()
    if args.threads:
        torch.set_num_threads(args.threads)
    kinds = _kinds(args.degradation)
    m = _load_model(args)
    ds, crops, split, data_path, cinfo = _load_data(args, m)
    rows = protocol_rows(ds.votes, ds.labels, m.classes)
    if args.protocol not in rows:
        raise EvalError(f"--protocol {args.protocol}: {data_path} has no FER+ votes (use --protocol all)")
    rows = {args.protocol: rows[args.protocol], **rows}     # the chosen protocol drives the headline
    per = evaluate_checkpoint(m.model, m.cfg, m.stage, crops, kinds, m.labels, seed=args.seed, steps=args.steps,
                              start=args.start, bs=args.batch_size, progress=args.progress, rows=rows)
    steps_used = (args.steps or m.cfg.diffusion_steps) if (m.stage == 2 and m.cfg.diffusion) else 0
    report = _headline(per, kinds, m.labels)
    report.update({
        "protocol": args.protocol, "protocols": _protocol_summary(per, kinds),
        "degradation": kinds[0] if len(kinds) == 1 else kinds,
        "steps": steps_used, "start": args.start if steps_used else None,
        "stage": m.stage, "uses_ground_truth_labels": m.stage == 1,
        "checkpoint": str(m.path), "preset": m.ckpt.get("preset"), "config": m.cfg.to_dict(),
        "classes": m.classes, "labels": list(m.labels), "split": split, "data": str(data_path),
        "dataset": ds.name, "layout": ds.meta.get("layout"), "seed": args.seed,
        "faces_found": cinfo.get("faces_found"), "faces_missing": cinfo.get("faces_missing"),
        "checkpoint_meta": {k: v for k, v in (m.ckpt.get("meta") or {}).items()
                            if k in ("epoch", "global_step", "val_acc", "loss", "degradations", "dedup", "dataset")},
    })
    report = {k: v for k, v in report.items() if v is not None}
    _extras(args, report, m, crops, kinds, ds.name, split, rows)
    report["seconds"] = round(time.time() - t0, 1)
    if args.json:
        _write_json(args.json, report)
    return report


def _write_json(path: str | Path, obj: Any) -> None:
    from lrdif.sdk.fileio import atomic_write_bytes
    atomic_write_bytes(path, json.dumps(obj, indent=2).encode())


def _extras(args, report: dict, m: _Loaded, crops, kinds: list[str], name: str, split: str, rows: dict) -> None:
    """Confusion PNG, steps curve, t-SNE and ablation rows, as asked."""
    if args.confusion:
        from lrdif.training.plots import plot_confusion
        plot_confusion(np.array(report["confusion"]), m.labels, args.confusion,
                       title=f"{m.ckpt.get('preset')} stage {m.stage} | {name} {split} ({args.protocol}) | "
                             f"{args.degradation} | acc {100 * report['accuracy']:.2f}%")
        report["confusion_png"] = str(args.confusion)
    if args.steps_curve:
        report["steps_curve"] = _steps_curve(args, m.model, m.cfg, m.stage, crops, kinds, m.labels)
    if args.tsne:
        report["tsne"] = _tsne(args, m.model, m.cfg, m.stage, crops, kinds, m.labels, name)
    if args.ablation:
        report["ablation"] = _ablation(args, crops, kinds, m.labels, m.classes, (m.model, m.cfg, m.ckpt, m.path), rows)


def _steps_curve(args, model, cfg, stage, crops, kinds, labels) -> dict[str, Any]:
    try:
        steps = [int(s) for s in args.steps_curve.split(",") if s.strip()]
    except ValueError:
        raise EvalError(f"--steps-curve: expected a comma list of ints, got {args.steps_curve!r}") from None
    if not steps or min(steps) < 1:
        raise EvalError("--steps-curve: iteration counts must be >= 1")
    if stage == 1 or not cfg.diffusion:
        raise EvalError("--steps-curve needs a stage-2 checkpoint trained with diffusion")
    accs = {k: [] for k in kinds}
    y = crops.labels.numpy()
    for n in steps:
        for k in kinds:
            pred = degraded_logits(model, stage, crops, k, args.seed, n, args.start, args.batch_size).argmax(1).numpy()
            accs[k].append(float((pred == y).mean()))
    png = args.steps_curve_png or (str(Path(args.json).with_suffix("")) + "_steps_curve.png" if args.json
                                   else "steps_curve.png")
    from lrdif.training.plots import plot_steps_curve
    plot_steps_curve(steps, accs, png, title=f"Accuracy vs diffusion iterations (trained with T={cfg.diffusion_steps})")
    out = {"steps": steps, "accuracy": accs, "trained_steps": cfg.diffusion_steps, "png": png}
    _write_json(Path(png).with_suffix(".json"), out)
    return out


def _tsne(args, model, cfg, stage, crops, kinds, labels, name) -> dict[str, Any]:
    from sklearn.manifold import TSNE
    from lrdif.training.plots import plot_tsne
    n = min(args.tsne_size, len(crops))
    rs = np.random.RandomState(args.seed + 7)
    sub = crops.subset(np.sort(rs.choice(len(crops), n, replace=False)))
    groups_k = ["none"] + [k for k in kinds if k != "none"]
    feats, labs, groups = [], [], []
    for gi, k in enumerate(groups_k):
        _, f = degraded_logits(model, stage, sub, k, args.seed, args.steps, args.start, args.batch_size, features=True)
        feats.append(f.numpy())
        labs.append(sub.labels.numpy())
        groups.append(np.full(len(f), gi))
    X = np.concatenate(feats)
    perp = float(min(30.0, max(2.0, (len(X) - 1) / 3.0)))
    emb = TSNE(n_components=2, perplexity=perp, init="pca", random_state=args.seed).fit_transform(X)
    plot_tsne(emb, np.concatenate(labs), labels, args.tsne, groups=np.concatenate(groups), group_names=groups_k,
              title=f"t-SNE of penultimate UDCformer features ({name}, n={n} per condition)")
    return {"png": str(args.tsne), "n_per_condition": int(n), "conditions": groups_k, "features": "penultimate",
            "perplexity": perp}


def _components(stage: int, cfg, ckpt) -> dict[str, bool]:
    meta = ckpt.get("meta") or {}
    loss = meta.get("loss", "ce" if stage == 1 else "ce+kl")
    return {"ground_truth": stage == 1, "diffusion_model": stage == 2 and bool(cfg.diffusion),
            "L_ce": stage == 1 or loss == "ce", "L_total": stage == 2 and loss == "ce+kl",
            "insert_noise": stage == 2 and bool(cfg.diffusion) and bool(cfg.insert_noise)}


def _ablation_row(name: str, path, stage: int, cfg, ckpt, per: dict, kinds: list[str]) -> dict[str, Any]:
    protocols = {p: float(np.mean([per[k]["protocols"][p]["accuracy"] for k in kinds])) for p in per[kinds[0]]["protocols"]}
    return {"name": name, "checkpoint": str(path), "stage": stage, **_components(stage, cfg, ckpt),
            "accuracy": float(np.mean([per[k]["accuracy"] for k in kinds])), "protocols": protocols,
            "per_degradation": {k: per[k]["accuracy"] for k in kinds},
            "macro_f1": float(np.mean([per[k]["macro_f1"] for k in kinds])),
            "mean_class_accuracy": float(np.mean([per[k]["mean_class_accuracy"] for k in kinds]))}


def _ablation(args, crops, kinds, labels, classes, main_model, rows) -> list[dict[str, Any]]:
    out = []
    for item in args.ablation:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = Path(item).stem, item
        model, cfg, ckpt = _load_ckpt(Path(path))
        if cfg.num_classes != classes:
            raise EvalError(f"--ablation {name}: {path} has {cfg.num_classes} classes, expected {classes}")
        if cfg.input_size != crops.crops.shape[-1]:
            raise EvalError(f"--ablation {name}: {path} uses {cfg.input_size}px crops, the main checkpoint "
                            f"{crops.crops.shape[-1]}px; evaluate checkpoints of one preset together")
        stage = int(ckpt.get("stage", 2))
        per = evaluate_checkpoint(model, cfg, stage, crops, kinds, labels, seed=args.seed, bs=args.batch_size, rows=rows)
        out.append(_ablation_row(ABLATION_NAMES.get(name.upper(), name), path, stage, cfg, ckpt, per, kinds))
    # inference-time variant of the main checkpoint: reverse chain started from noise instead of 0
    model, cfg, ckpt, cpath = main_model
    stage = int(ckpt.get("stage", 2))
    if stage == 2 and cfg.diffusion:
        alt = "noise" if args.start == "zero" else "zero"
        per = evaluate_checkpoint(model, cfg, stage, crops, kinds, labels, seed=args.seed, start=alt,
                                  bs=args.batch_size, rows=rows)
        row = _ablation_row(f"main checkpoint, inference Z_T = {'N(0,I)' if alt == 'noise' else '0'}", cpath, 2,
                            cfg, ckpt, per, kinds)
        out.append(dict(row, inference_variant=True))
    return out


def _print_summary(r: dict[str, Any]) -> None:
    deg = r["degradation"] if isinstance(r["degradation"], str) else ",".join(r["degradation"])
    print(f"{r['dataset']} [{r['split']}] n={r['n']} degradation={deg} stage={r['stage']} steps={r['steps']}"
          f"{' (ground-truth label prior)' if r['uses_ground_truth_labels'] else ''}")
    print(f"[{r['protocol']}] accuracy {100 * r['accuracy']:.2f}%  mean class accuracy "
          f"{100 * r['mean_class_accuracy']:.2f}%  macro-F1 {100 * r['macro_f1']:.2f}%")
    if r.get("per_degradation"):
        print("  " + "  ".join(f"{k}: {100 * v['accuracy']:.2f}%" for k, v in r["per_degradation"].items()))
    print("per-class recall: " + ", ".join(f"{c} {100 * v['recall']:.1f}% (n={v['n']})" for c, v in r["per_class"].items()))
    for p, v in r["protocols"].items():
        if p != r["protocol"]:
            print(f"[{p}] n={v['n']} accuracy {100 * v['accuracy']:.2f}%  mean class accuracy "
                  f"{100 * v['mean_class_accuracy']:.2f}%")
    if "steps_curve" in r:
        sc = r["steps_curve"]
        for k, ys in sc["accuracy"].items():
            print(f"steps curve [{k}]: " + ", ".join(f"T={s}: {100 * a:.2f}%" for s, a in zip(sc["steps"], ys)))
    if "ablation" in r:
        print("| method | GT | DM | L_ce | L_total | noise | acc (%) |")
        print("|---|---|---|---|---|---|---|")
        ck = lambda b: "✓" if b else "✗"  # noqa: E731
        for row in r["ablation"]:
            print(f"| {row['name']} | {ck(row['ground_truth'])} | {ck(row['diffusion_model'])} | {ck(row['L_ce'])} | "
                  f"{ck(row['L_total'])} | {ck(row['insert_noise'])} | {100 * row['accuracy']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
