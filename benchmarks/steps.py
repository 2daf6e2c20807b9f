"""The paper's Fig. 6 on our model: accuracy vs diffusion steps (1..N) and latency per step count.

Accuracy: the checkpoint's torch inference module with `steps` = 1..N on each eval condition (a
fresh process per point). Latency: an ONNX export per step count (`lrdif-export --steps S`), timed
in fresh onnxruntime processes like the artifacts. The checkpoint was trained with its own T; other
step counts re-discretise the reverse chain at inference time (no retraining per T, unlike the
paper) unless per-T checkpoints are given.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks import evalsets, latency
from benchmarks.accuracy import metrics, predict_many


def measure(args, cdir: Path, threads: list[int], log=print) -> dict:
    if not args.checkpoint:
        return {"skipped": "no checkpoint"}
    from lrdif.export.graph import load_inference
    graph = load_inference(args.checkpoint)
    trained_steps = graph.steps
    if not graph.cfg.diffusion:
        return {"skipped": "the checkpoint has no diffusion (diffusion=False)"}
    size = int(graph.cfg.input_size)
    steps_list = list(range(1, args.max_steps + 1))
    out: dict = {"trained_steps": trained_steps, "steps": steps_list, "accuracy": [], "latency": []}
    if not args.skip_accuracy:
        conds = [c for c in str(args.conditions).split(",") if c]
        es = evalsets.build(conds, size, cdir, data=args.data, smoke=args.smoke, limit=args.limit, log=log,
                        canonical_dir=getattr(args, "canonical_dir", None))
        jobs = [{"data": es["sets"][k], "steps": s, "condition": k} for s in steps_list for k in conds]
        all_scores, r = predict_many(f"torch:{args.checkpoint}", [{"data": j["data"], "steps": j["steps"]}
                                                                 for j in jobs], threads=2)
        for j, scores in zip(jobs, all_scores):
            row = {"steps": j["steps"], "condition": j["condition"]}
            if scores is None:
                row["error"] = r.get("error")
            else:
                m = metrics(scores, np.load(j["data"])["labels"])
                row.update(acc8=m["acc8"], acc7=m["acc7"], mean_class_acc8=m["mean_class_acc8"])
            out["accuracy"].append(row)
        for s in steps_list:
            log(f"   steps {s}: " + ", ".join(f"{r['condition']} {100 * (r.get('acc8') or 0):.2f}%"
                                           for r in out["accuracy"] if r["steps"] == s))
    # smoke runs export with the legacy exporter (opset 17, ~5 s instead of ~35 s per file; their
    # latencies are not results), full runs with lrdif-export's default like the shipped artifacts
    opset = ["--opset", "17"] if args.smoke else []
    with tempfile.TemporaryDirectory(prefix="lrdif-steps-") as td:
        configs = []
        out["exporter"] = f"lrdif-export --target onnx --steps S --no-verify {' '.join(opset)}".strip()
        for s in steps_list:
            res = {"onnx": _export_cli(args.checkpoint, s, Path(td) / f"steps{s}", opset)}
            if "path" not in res["onnx"]:
                out["latency"].append({"steps": s, "error": res["onnx"]["error"]})
                continue
            for t in threads:
                configs.append({"key": f"onnx-steps{s}@{t}t", "steps": s, "threads": t, "runtime": "onnxruntime",
                                "spec": {"mode": "latency", "artifact": res["onnx"]["path"]}})
        reps = 1 if args.smoke else max(1, min(args.repeats, 3))
        rows = latency.measure(configs, reps, args.warmup, args.iters, log=log)
        for r in rows:
            out["latency"].append({k: r.get(k) for k in ("steps", "threads", "p50_ms", "p50_ms_cv", "p90_ms",
                                                          "p99_ms", "cold_start_ms", "repeats_ok")})
    out["note"] = ("accuracy from the torch module, latency from an ONNX export per step count in "
                   "onnxruntime (fresh process per point); steps other than the trained T re-discretise the "
                   "chain at inference time, the model is not retrained per T")
    return out


def _export_cli(checkpoint: str, steps: int, out: Path, extra: list[str]) -> dict:
    import subprocess
    import sys
    from benchmarks.sysinfo import ROOT
    p = subprocess.run([sys.executable, "-m", "lrdif.export.cli", "--target", "onnx", "--steps", str(steps),
                        "--no-verify", "-q", "--checkpoint", str(checkpoint), "--out", str(out), *extra],
                       cwd=ROOT, capture_output=True, text=True)
    found = sorted(Path(out).glob("*.onnx")) if Path(out).exists() else []
    if p.returncode or not found:
        return {"error": f"lrdif-export rc={p.returncode}: {(p.stdout + p.stderr)[-300:]}"}
    return {"path": str(found[0])}
