"""Accuracy of every artifact (and torch) on FERPlus PrivateTest per condition, one process each."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks import evalsets
from benchmarks.proc import run_child

LABELS_8 = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def metrics(scores: np.ndarray, labels: np.ndarray, votes: np.ndarray | None = None) -> dict:
    """8-class (all rows) and 7-class (contempt rows dropped, argmax over the first 7) metrics, and
    with FER+ `votes` the official majority protocol (`majority`: n, acc8, mean class accuracy,
    per-class recall; rows as `lrdif-eval --protocol majority`)."""
    k = scores.shape[1]
    pred = scores.argmax(1)
    out: dict = {"n": int(len(labels)), "classes": int(k)}
    cm = np.zeros((8, 8), np.int64)
    np.add.at(cm, (labels, np.minimum(pred, 7)), 1)
    out["acc8"] = float((pred == labels).mean()) if k == 8 else None
    per = {}
    for c in range(8):
        m = labels == c
        per[LABELS_8[c]] = float((pred[m] == c).mean()) if m.any() else None
    out["per_class"] = per
    vals = [v for v in per.values() if v is not None]
    out["mean_class_acc8"] = float(np.mean(vals)) if k == 8 and vals else None
    keep = labels != 7
    p7 = scores[keep, :7].argmax(1)
    out["acc7"] = float((p7 == labels[keep]).mean()) if keep.any() else None
    out["n7"] = int(keep.sum())
    out["confusion"] = cm.tolist()
    if votes is not None and k == 8:
        from lrdif.training.datasets import ferplus_majority
        keep, winner = ferplus_majority(votes, 8)
        sub = metrics(scores[keep], winner[keep])
        out["majority"] = {"n": sub["n"], "acc8": sub["acc8"], "mean_class_acc8": sub["mean_class_acc8"],
                           "per_class": sub["per_class"]}
    return out


def input_size_of(runnable: list[dict], checkpoint: str | None) -> int:
    for a in runnable:
        md = a.get("metadata") or {}
        if isinstance(md, dict) and md.get("input_size"):
            return int(md["input_size"])
    if runnable:   # ask the runtime itself (cheap: onnx/tflite shapes)
        try:
            from benchmarks.runners import open_runner
            a = next((x for x in runnable if x["runtime"] != "executorch"), runnable[0])
            return open_runner(a["path"], 1).input_size
        except Exception:
            pass
    if checkpoint:
        from lrdif.export.graph import load_inference
        return int(load_inference(checkpoint).cfg.input_size)
    return 64


def predict_many(artifact: str, jobs: list[dict], threads: int = 2) -> tuple[list[np.ndarray | None], dict]:
    """One fresh process for one model over several eval sets: jobs = [{"data", "steps"}]. The
    artifact normalises with its own metadata (through the SDK backend)."""
    with tempfile.TemporaryDirectory(prefix="lrdif-acc-") as td:
        jj = [dict(j, scores_out=str(Path(td) / f"scores{i}.npy")) for i, j in enumerate(jobs)]
        r = run_child({"mode": "predict", "artifact": artifact, "jobs": jj}, threads=threads, timeout=7200)
        scores = [np.load(j["scores_out"]) if r.get("ok") and Path(j["scores_out"]).exists() else None
                  for j in jj]
    return scores, r


def measure(runnable: list[dict], args, cdir: Path, log=print) -> dict:
    size = input_size_of(runnable, args.checkpoint)
    args._eval_size = size
    conds = [c for c in str(args.conditions).split(",") if c]
    es = evalsets.build(conds, size, cdir, data=args.data, smoke=args.smoke, limit=args.limit, log=log,
                        canonical_dir=getattr(args, "canonical_dir", None))
    models = [(a["name"], a["path"], a.get("metadata") or {}) for a in runnable]
    if args.checkpoint:
        models.insert(0, ("torch (checkpoint)", f"torch:{args.checkpoint}", {}))
    rows = []
    ref: dict[str, np.ndarray] = {}
    for name, path, md in models:
        all_scores, r = predict_many(path, [{"data": es["sets"][k]} for k in conds], threads=2)
        for kind, scores, job in zip(conds, all_scores, (r.get("jobs") or [{}] * len(conds))):
            z = np.load(es["sets"][kind])
            labels, votes = z["labels"], (z["votes"] if "votes" in z.files else None)
            row = {"model": name, "condition": kind, "condition_name": evalsets.CONDITION_NAMES.get(kind, kind)}
            if scores is None:
                row["error"] = r.get("error") or r.get("log_tail", "")[-500:]
                log(f"   {name} {kind}: FAILED {row['error']}")
            else:
                row.update(metrics(scores, labels, votes))
                row["seconds"] = job.get("seconds")
                if name.startswith("torch"):
                    ref[kind] = scores.argmax(1)
                elif kind in ref:
                    row["top1_agreement_with_torch"] = float((scores.argmax(1) == ref[kind]).mean())
                log(f"   {name} {kind}: acc8 {_pct(row['acc8'])} acc7 {_pct(row['acc7'])}")
            rows.append(row)
    return {"eval_sets": es["info"], "rows": rows,
            "protocol": "top-1 on FERPlus majority labels; acc8 = 8 classes, all rows; majority = the FER+ official "
                        "majority protocol (votes of 1 dropped, top emotion > half of the rest, unknown/NF dropped); acc7 = contempt rows "
                        "dropped, argmax over the first 7 outputs; crops/landmarks from the landmark cache "
                        "(lrdif.training.data.prepare_crops); degraded conditions from the canonical lrdif-degrade sets "
                        "(front-end run on the degraded images, as lrdif-eval) where eval_sets.conditions[k].source "
                        "is 'canonical', else degraded on the fly after cropping"}


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.2f}%"
