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
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["main", "build_parser", "EvalError", "default_checkpoint", "compute_metrics", "evaluate_checkpoint"]

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
        "per_class": {labels[i]: {"accuracy": float(rec[i]), "precision": float(prec[i]), "f1": float(f1[i]),
                                  "n": int(sup[i])} for i in range(k)},
        "confusion": cm.tolist(),
    }


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


class _Features:
    """Captures the classifier input (penultimate UDCformer features)."""

    def __init__(self, model) -> None:
        self.buf: list[torch.Tensor] = []
        self.h = model.udcformer.classifier.register_forward_pre_hook(lambda m, inp: self.buf.append(inp[0].detach()))

    def take(self) -> torch.Tensor:
        out = torch.cat(self.buf) if self.buf else torch.zeros(0)
        self.buf = []
        return out

    def close(self) -> None:
        self.h.remove()


def _logits(model, stage: int, crops, kind: str, seed: int, steps: int | None, start: str, bs: int,
            progress: bool = False) -> torch.Tensor:
    from lrdif.training.degrade import make_degradation
    from lrdif.training.train import predict_logits
    deg = None if kind == "none" else make_degradation(kind)
    logits, _ = predict_logits(model, crops.crops, crops.landmarks, stage=stage, labels=crops.labels,
                               degradation=deg, seed=seed, batch_size=bs, steps=steps, start=start,
                               progress=progress)
    return logits


def _kinds(spec: str) -> list[str]:
    from lrdif.training.degrade import KINDS
    if spec.strip().lower() == "all":
        return list(KINDS)
    ks = [k.strip() for k in spec.split(",") if k.strip()]
    bad = [k for k in ks if k not in KINDS]
    if bad or not ks:
        raise EvalError(f"--degradation: unknown kind(s) {bad or spec!r}; valid: {', '.join(KINDS)}, all")
    return ks


def evaluate_checkpoint(model, cfg, stage: int, crops, kinds: list[str], labels, *, seed: int = 0,
                        steps: int | None = None, start: str = "zero", bs: int = 256, progress: bool = False
                        ) -> dict[str, Any]:
    """Metrics per degradation kind + the mean accuracy over kinds."""
    per = {}
    y = crops.labels.numpy()
    for k in kinds:
        pred = _logits(model, stage, crops, k, seed, steps, start, bs, progress).argmax(1).numpy()
        per[k] = compute_metrics(y, pred, labels)
    return per


def run(args) -> dict[str, Any]:
    t0 = time.time()
    if args.threads:
        torch.set_num_threads(args.threads)
    from lrdif.sdk.labels import labels_for
    from lrdif.training.data import prepare_crops, resolve_data_path
    from lrdif.training.datasets import DatasetError, load_dataset

    kinds = _kinds(args.degradation)
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
    labels = labels_for(classes)

    data_path = resolve_data_path(args.data)
    split = args.split
    from lrdif.training.datasets import SPLIT_CODES, normalise_split
    try:
        want = normalise_split(split)
        # the landmark cache is keyed by the whole file's pixels: compute (or reuse) it for every image,
        # then select the split, so all splits share one cache
        ds_all = load_dataset(data_path, None, classes)
    except DatasetError as e:
        raise EvalError(str(e)) from None
    if split is None:
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
        rs = np.random.RandomState(args.seed)
        idx = np.sort(rs.choice(idx, args.limit, replace=False))
    ds = ds_all.subset(idx, name=ds_all.name)
    try:
        crops_all, cinfo = prepare_crops(ds_all, size=cfg.input_size, cache_dir=args.cache_dir, progress=args.progress)
    except Exception as e:
        raise EvalError(f"cannot compute face crops for {data_path}: {e}") from None
    crops = crops_all.subset(idx)
    del crops_all
    cinfo = dict(cinfo, faces_found=int(crops.found.sum()), faces_missing=int((~crops.found).sum()))

    per = evaluate_checkpoint(model, cfg, stage, crops, kinds, labels, seed=args.seed, steps=args.steps,
                              start=args.start, bs=args.batch_size, progress=args.progress)
    steps_used = (args.steps or cfg.diffusion_steps) if (stage == 2 and cfg.diffusion) else 0
    report: dict[str, Any] = {}
    if len(kinds) == 1:
        report.update(per[kinds[0]])
    else:
        report["accuracy"] = float(np.mean([per[k]["accuracy"] for k in kinds]))
        report["macro_f1"] = float(np.mean([per[k]["macro_f1"] for k in kinds]))
        report["n"] = per[kinds[0]]["n"]
        report["per_class"] = {c: {"accuracy": float(np.mean([per[k]["per_class"][c]["accuracy"] for k in kinds])),
                                   "n": per[kinds[0]]["per_class"][c]["n"]} for c in labels}
        report["confusion"] = np.sum([per[k]["confusion"] for k in kinds], axis=0).tolist()
    report.update({
        "per_degradation": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in per.items()}
        if len(kinds) > 1 else None,
        "per_degradation_full": per if len(kinds) > 1 else None,
        "degradation": kinds[0] if len(kinds) == 1 else kinds,
        "steps": steps_used, "start": args.start if steps_used else None,
        "stage": stage, "uses_ground_truth_labels": stage == 1,
        "checkpoint": str(ckpt_path), "preset": ckpt.get("preset"), "config": cfg.to_dict(),
        "classes": classes, "labels": list(labels), "split": split, "data": str(data_path),
        "dataset": ds.name, "layout": ds.meta.get("layout"), "seed": args.seed,
        "faces_found": cinfo.get("faces_found"), "faces_missing": cinfo.get("faces_missing"),
        "checkpoint_meta": {k: v for k, v in (ckpt.get("meta") or {}).items()
                            if k in ("epoch", "global_step", "val_acc", "loss", "degradations", "dedup", "dataset")},
    })
    report = {k: v for k, v in report.items() if v is not None}

    if args.confusion:
        from lrdif.training.plots import plot_confusion
        plot_confusion(np.array(report["confusion"]), labels, args.confusion,
                       title=f"{ckpt.get('preset')} stage {stage} | {ds.name} {split} | {args.degradation} | "
                             f"acc {100 * report['accuracy']:.2f}%")
        report["confusion_png"] = str(args.confusion)

    if args.steps_curve:
        report["steps_curve"] = _steps_curve(args, model, cfg, stage, crops, kinds, labels)

    if args.tsne:
        report["tsne"] = _tsne(args, model, cfg, stage, crops, kinds, labels, ds.name)

    if args.ablation:
        report["ablation"] = _ablation(args, crops, kinds, labels, classes, (model, cfg, ckpt, ckpt_path))

    report["seconds"] = round(time.time() - t0, 1)
    if args.json:
        p = Path(args.json)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(report, indent=2))
        os.replace(tmp, p)
    return report


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
            pred = _logits(model, stage, crops, k, args.seed, n, args.start, args.batch_size).argmax(1).numpy()
            accs[k].append(float((pred == y).mean()))
    png = args.steps_curve_png or (str(Path(args.json).with_suffix("")) + "_steps_curve.png" if args.json
                                   else "steps_curve.png")
    from lrdif.training.plots import plot_steps_curve
    plot_steps_curve(steps, accs, png, title=f"Accuracy vs diffusion iterations (trained with T={cfg.diffusion_steps})")
    out = {"steps": steps, "accuracy": accs, "trained_steps": cfg.diffusion_steps, "png": png}
    jp = Path(png).with_suffix(".json")
    tmp = jp.with_name(f".{jp.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, jp)
    return out


def _tsne(args, model, cfg, stage, crops, kinds, labels, name) -> dict[str, Any]:
    from sklearn.manifold import TSNE
    from lrdif.training.plots import plot_tsne
    n = min(args.tsne_size, len(crops))
    rs = np.random.RandomState(args.seed + 7)
    sub = crops.subset(np.sort(rs.choice(len(crops), n, replace=False)))
    groups_k = ["none"] + [k for k in kinds if k != "none"]
    feats, labs, groups = [], [], []
    hook = _Features(model)
    try:
        for gi, k in enumerate(groups_k):
            _logits(model, stage, sub, k, args.seed, args.steps, args.start, args.batch_size)
            f = hook.take()
            feats.append(f.numpy())
            labs.append(sub.labels.numpy())
            groups.append(np.full(len(f), gi))
    finally:
        hook.close()
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


def _ablation(args, crops, kinds, labels, classes, main_model) -> list[dict[str, Any]]:
    rows = []
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
        per = evaluate_checkpoint(model, cfg, stage, crops, kinds, labels, seed=args.seed, bs=args.batch_size)
        rows.append({"name": ABLATION_NAMES.get(name.upper(), name), "checkpoint": path, "stage": stage,
                     **_components(stage, cfg, ckpt), "accuracy": float(np.mean([per[k]["accuracy"] for k in kinds])),
                     "per_degradation": {k: per[k]["accuracy"] for k in kinds},
                     "macro_f1": float(np.mean([per[k]["macro_f1"] for k in kinds]))})
    # inference-time variant of the main checkpoint: reverse chain started from noise instead of 0
    model, cfg, ckpt, cpath = main_model
    stage = int(ckpt.get("stage", 2))
    if stage == 2 and cfg.diffusion:
        alt = "noise" if args.start == "zero" else "zero"
        per = evaluate_checkpoint(model, cfg, stage, crops, kinds, labels, seed=args.seed, start=alt, bs=args.batch_size)
        rows.append({"name": f"main checkpoint, inference Z_T = {'N(0,I)' if alt == 'noise' else '0'}",
                     "checkpoint": str(cpath), "stage": 2, **_components(stage, cfg, ckpt),
                     "accuracy": float(np.mean([per[k]["accuracy"] for k in kinds])),
                     "per_degradation": {k: per[k]["accuracy"] for k in kinds},
                     "macro_f1": float(np.mean([per[k]["macro_f1"] for k in kinds])), "inference_variant": True})
    return rows


def _print_summary(r: dict[str, Any]) -> None:
    deg = r["degradation"] if isinstance(r["degradation"], str) else ",".join(r["degradation"])
    print(f"{r['dataset']} [{r['split']}] n={r['n']} degradation={deg} stage={r['stage']} steps={r['steps']}"
          f"{' (ground-truth label prior)' if r['uses_ground_truth_labels'] else ''}")
    print(f"accuracy {100 * r['accuracy']:.2f}%  macro-F1 {100 * r['macro_f1']:.2f}%")
    if r.get("per_degradation"):
        print("  " + "  ".join(f"{k}: {100 * v['accuracy']:.2f}%" for k, v in r["per_degradation"].items()))
    print("per class: " + ", ".join(f"{c} {100 * v['accuracy']:.1f}% (n={v['n']})" for c, v in r["per_class"].items()))
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
