"""`python -m benchmarks`: latency, memory, accuracy, peer, steps curve, cost -> JSON + RESULTS.md + PNGs."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import sysinfo
from benchmarks.sysinfo import ROOT

DEFAULT_OUT = ROOT / "benchmarks"
SCHEMA = "lrdif.benchmarks/1"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--artifacts", type=Path, help="directory of exported artifacts (.onnx/.tflite/.pte); "
                   "default: export the tiny preset into a temporary directory")
    p.add_argument("--checkpoint", help="torch checkpoint for the torch reference, accuracy beside torch, "
                   "the steps curve and the cost figures (default: the one the artifacts came from, if known)")
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per measurement (default 5)")
    p.add_argument("--iters", type=int, default=200, help="timed iterations per process (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed warm-up iterations (default 20)")
    p.add_argument("--threads", default=None, help="thread counts, comma separated (default 1,2; smoke 1)")
    p.add_argument("--smoke", action="store_true", help="a few iterations, tiny model, small data")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="where RESULTS.md and results/ (JSON + PNG) go (default benchmarks/)")
    p.add_argument("--skip-accuracy", action="store_true", help="no accuracy, peer or steps-accuracy")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-pipeline", action="store_true")
    p.add_argument("--skip-peer", action="store_true")
    p.add_argument("--skip-steps", action="store_true")
    p.add_argument("--data", type=Path, default=None, help="FERPlus npz (default ../shared/data/ferplus/...)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N test images")
    p.add_argument("--conditions", default=None,
                   help="degradation kinds for accuracy (default: none,udc-toled,udc-poled,lowlight = clean, "
                        "UDC-T, UDC-P, low-light; smoke: none,lowlight, because the UDC PSF kernels take "
                        "minutes to compute on a busy 2-core machine)")
    p.add_argument("--canonical-dir", type=Path, default=ROOT / "runs" / "canonical",
                   help="folder of the canonical lrdif-degrade test sets ferplus_test_<kind>_s0_64.npz "
                        "(training/DEGRADATIONS.md; default runs/canonical, as `make train-default` writes "
                        "them). Kinds without a file there are degraded on the fly, and the results say so")
    p.add_argument("--max-steps", type=int, default=8, help="steps curve 1..N (default 8)")
    p.add_argument("--eval-json", type=Path, action="append", default=[],
                   help="lrdif-eval --json outputs to read the table-5 ablation from (repeatable)")
    p.add_argument("--gemm-n", type=int, default=2048)
    p.add_argument("--cache-dir", type=Path, default=None, help="where prepared eval sets / the peer model go")
    return p.parse_args(argv)


def _section(name: str, fn, results: dict, log):
    log(f"== {name}")
    t0 = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as e:  # a failing section is recorded, never silently dropped
        log(f"   {name} FAILED: {type(e).__name__}: {e}")
        results[name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-4000:]}
    results.setdefault("timings_s", {})[name] = round(time.perf_counter() - t0, 2)


def cache_dir(args) -> Path:
    """--cache-dir, else `<lrdif cache>/benchmarks` (the one lookup: `lrdif.sdk.assets.cache_dir`)."""
    from lrdif.sdk.assets import cache_dir as lrdif_cache_dir
    d = Path(args.cache_dir) if args.cache_dir else lrdif_cache_dir() / "benchmarks"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _apply_defaults(args) -> None:
    if args.smoke:
        args.repeats = min(args.repeats, 2)
        args.iters = min(args.iters, 10)
        args.warmup = min(args.warmup, 2)
        args.max_steps = min(args.max_steps, 2)
        args.limit = args.limit or 16
        args.gemm_n = min(args.gemm_n, 256)
    if args.conditions is None:
        args.conditions = "none,lowlight" if args.smoke else "none,udc-toled,udc-poled,lowlight"
    if args.threads is None:
        args.threads = "1" if args.smoke else "1,2"


def _artifacts(args, results: dict, log):
    """(artifact folder, temporary dir or None): --artifacts, else the tiny preset exported now."""
    from benchmarks import artifacts as arts_mod
    tmp = None
    if args.artifacts is None:
        from benchmarks.prepare import prepare_smoke_artifacts
        tmp = tempfile.TemporaryDirectory(prefix="lrdif-bench-art-")
        log("== export (tiny preset, no --artifacts given)")
        prov = prepare_smoke_artifacts(Path(tmp.name), log=log)
        results["export"] = prov
        art_dir = Path(tmp.name)
        if args.checkpoint is None:
            args.checkpoint = prov.get("checkpoint")
    else:
        art_dir = args.artifacts
    arts, report = arts_mod.discover(art_dir)
    results["artifacts"] = arts
    results["export_report"] = report
    results["config"]["artifacts_dir"] = str(art_dir)
    results["config"]["checkpoint"] = args.checkpoint
    log(f"   {len(arts)} artifacts in {art_dir}: " + ", ".join(a["name"] for a in arts))
    return tmp


def _latency_configs(runnable: list[dict], threads: list[int], checkpoint) -> list[dict]:
    configs = []
    for a in runnable:
        for t in threads:
            configs.append({"key": f"{a['name']}@{t}t", "artifact": a["name"], "runtime": a["runtime"],
                            "precision": a["precision"], "quantisation": a["quantisation"],
                            "size_bytes": a["size_bytes"], "threads": t,
                            "spec": {"mode": "latency", "artifact": a["path"]}})
    if checkpoint:
        for t in threads:
            configs.append({"key": f"torch-eager@{t}t", "artifact": "torch eager (checkpoint)",
                            "runtime": "torch", "precision": "fp32", "quantisation": "none",
                            "size_bytes": None, "threads": t,
                            "spec": {"mode": "torch_latency", "checkpoint": str(checkpoint)}})
    return configs


def _sections(args, runnable: list[dict], threads: list[int], cdir: Path, results: dict, log) -> None:
    from benchmarks import ablation, cost
    if not args.skip_latency:
        from benchmarks import latency
        _section("latency", lambda: latency.measure(_latency_configs(runnable, threads, args.checkpoint), args.repeats,
                                                    args.warmup, args.iters, log=log), results, log)
    if not args.skip_pipeline:
        from benchmarks import pipeline
        _section("pipeline", lambda: pipeline.measure(runnable[:1] if args.smoke else runnable, threads, args,
                                                      cdir, log), results, log)
    _section("cost", lambda: {"model": cost.model_cost(args.checkpoint) if args.checkpoint else None,
                              "peak_gemm": cost.peak_gemm(args.gemm_n, 3 if args.smoke else 7, threads,
                                                          ("numpy",) if args.smoke else ("numpy", "torch"))},
             results, log)
    if not args.skip_accuracy:
        from benchmarks import accuracy
        _section("accuracy", lambda: accuracy.measure(runnable, args, cdir, log), results, log)
        if not args.skip_peer:
            from benchmarks import peer
            _section("peer", lambda: peer.measure(args, cdir, log), results, log)
    if not args.skip_steps:
        from benchmarks import steps
        _section("steps", lambda: steps.measure(args, cdir, threads, log), results, log)
    _section("ablation", lambda: ablation.collect(args, results, log), results, log)


def main(argv=None) -> int:
    from lrdif.sdk.fileio import atomic_write_bytes
    args = parse_args(argv)
    _apply_defaults(args)
    threads = [int(t) for t in str(args.threads).split(",") if t]
    out_dir = Path(args.out)
    res_dir = out_dir / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, flush=True)  # noqa: E731
    cdir = cache_dir(args)
    results: dict = {"schema": SCHEMA, "env": sysinfo.environment(),
                     "config": {"repeats": args.repeats, "iters": args.iters, "warmup": args.warmup,
                                "threads": threads, "smoke": args.smoke, "limit": args.limit,
                                "argv": sys.argv[1:] if argv is None else list(argv)}}
    log(f"lrdif benchmarks {results['env']['date_utc']} on {results['env']['machine']['cpu_model']} "
        f"({results['env']['machine']['logical_cores']} cores), commit {results['env']['git']['short']}, "
        f"load {results['env']['loadavg_start']}")
    tmp = _artifacts(args, results, log)
    _sections(args, [a for a in results["artifacts"] if a["runnable"]], threads, cdir, results, log)
    results["env"]["loadavg_end"] = sysinfo.loadavg()
    results["env"]["date_end_utc"] = sysinfo.now_utc()
    from benchmarks import report as report_mod
    results["noise"] = report_mod.noise_summary(results)
    json_path = res_dir / "results.json"
    atomic_write_bytes(json_path, json.dumps(results, indent=1, default=str).encode())
    md = report_mod.write(results, out_dir, res_dir)
    log(f"wrote {json_path} and {md}")
    if tmp is not None:
        tmp.cleanup()
    return 0
