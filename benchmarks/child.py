"""Child-process entry: one measurement per fresh process (`python -m benchmarks.child SPEC.json`).

The parent (`benchmarks.proc`) writes a JSON spec, starts this module in a new interpreter with
the thread count pinned in the environment, and reads the JSON result the child writes to
`spec["result"]`. Only the runtime under test is imported here.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.stats import latency_stats as _stats

T_START = time.perf_counter()


def _rss_mb() -> float | None:
    try:
        import psutil
        return round(psutil.Process().memory_info().rss / 2**20, 2)
    except Exception:
        return None


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2)   # KiB on Linux


def _vmhwm_mb() -> float | None:
    """Peak RSS of this process image from /proc (VmHWM). Unlike ru_maxrss it does not inherit the
    parent's RSS at spawn (Linux carries the pre-exec high-water mark into ru_maxrss)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 2)
    except OSError:
        pass
    return None


def synthetic_inputs(size: int, batch: int = 1, seed: int = 0):
    """Random uint8 RGB crops (B, S, S, 3) and landmarks: what the SDK backends take."""
    rng = np.random.default_rng(seed)
    crops = np.clip(rng.normal(127.5, 64.0, (batch, size, size, 3)), 0, 255).astype(np.uint8)
    lm = rng.uniform(0.2, 0.8, (batch, 468, 2)).astype(np.float32)
    return crops, lm


def time_loop(fn, warmup: int, iters: int) -> list[float]:
    """Milliseconds of each of `iters` calls of fn() after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


# ---------------------------------------------------------------------------------------------
def mode_latency(spec: dict) -> dict:
    """Cold start (import, load, first inference) then steady-state latency of one artifact."""
    from benchmarks import runners
    threads = int(spec["threads"])
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    rt = runners.runtime_of(spec["artifact"])
    if rt == "onnxruntime":
        import onnxruntime  # noqa: F401
    elif rt == "litert":
        import ai_edge_litert.interpreter  # noqa: F401
    elif rt == "executorch":
        import torch  # noqa: F401
        import executorch.runtime  # noqa: F401
    t_import = time.perf_counter() - t0
    rss_imported = _rss_mb()
    t1 = time.perf_counter()
    runner = runners.open_runner(spec["artifact"], threads)
    t_load = time.perf_counter() - t1
    img, lm = synthetic_inputs(runner.input_size, runner.fixed_batch or 1)
    t2 = time.perf_counter()
    y = runner.predict(img, lm)
    t_first = time.perf_counter() - t2
    ms = time_loop(lambda: runner.predict(img, lm), int(spec["warmup"]), int(spec["iters"]))
    return {"runtime": runner.runtime, "threads": threads, "batch": runner.fixed_batch or 1,
            "input_size": runner.input_size, "image_layout": runner.image_layout,
            "output_shape": list(np.shape(y)),
            "import_s": t_import, "load_s": t_load, "first_inference_s": t_first,
            "cold_start_s": t_load + t_first, "since_interpreter_start_s": time.perf_counter() - T_START,
            "rss_start_mb": rss0, "rss_after_import_mb": rss_imported, "rss_end_mb": _rss_mb(),
            "steady": _stats(ms)}


def mode_predict(spec: dict) -> dict:
    """Scores of one model over several npz files of crops (uint8 NHWC) + crop landmarks.
    spec["jobs"] = [{"data", "scores_out", "steps"(torch only)}]; one runner per steps value."""
    from benchmarks import runners
    cache: dict = {}
    done = []
    for job in spec["jobs"]:
        steps = job.get("steps")
        if steps not in cache:
            t0 = time.perf_counter()
            cache[steps] = runners.open_any(spec["artifact"], int(spec["threads"]), steps)
            load_s = time.perf_counter() - t0
        runner = cache[steps]
        data = np.load(job["data"])
        x = data["crops"]                 # uint8 RGB: normalised by the SDK backend from the metadata
        t0 = time.perf_counter()
        scores = runner.predict_batched(x, data["landmarks"].astype(np.float32))
        dt = time.perf_counter() - t0
        np.save(job["scores_out"], scores.astype(np.float32))
        done.append({"n": int(len(x)), "seconds": dt, "steps": steps})
    return {"jobs": done, "runtime": runner.runtime, "load_s": load_s}


def mode_peer(spec: dict) -> dict:
    """The `fer` package's TFLite on gray 64x64 crops (several npz jobs); scores + steady latency."""
    from benchmarks.runners import PeerFerRunner
    t0 = time.perf_counter()
    runner = PeerFerRunner(spec["artifact"], int(spec["threads"]))
    t_load = time.perf_counter() - t0
    one = None
    for job in spec["jobs"]:
        gray = np.load(job["data"])["gray64"]
        scores = runner.predict_gray(gray)
        np.save(job["scores_out"], scores.astype(np.float32))
        one = gray[:1]
    ms = time_loop(lambda: runner.predict_gray(one), int(spec.get("warmup", 10)), int(spec.get("iters", 50)))
    inp = runner.image_in
    return {"load_s": t_load, "steady": _stats(ms),
            "input": {"shape": [int(v) for v in inp["shape"]], "dtype": np.dtype(inp["dtype"]).name,
                      "quantization": [float(inp["quantization"][0]), int(inp["quantization"][1])]},
            "output": {"shape": [int(v) for v in runner.out["shape"]],
                       "dtype": np.dtype(runner.out["dtype"]).name}}


def mode_gemm(spec: dict) -> dict:
    """Large float32 GEMM throughput (GFLOP/s), best of `reps`, numpy or torch, N threads."""
    n, reps, backend = int(spec.get("n", 2048)), int(spec.get("reps", 5)), spec["backend"]
    threads = int(spec["threads"])
    if backend == "torch":
        import torch
        torch.set_num_threads(threads)
        a, b = torch.randn(n, n), torch.randn(n, n)
        fn = lambda: torch.mm(a, b)  # noqa: E731
    else:
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
        fn = lambda: a @ b  # noqa: E731
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    flops = 2.0 * n ** 3
    return {"backend": backend, "n": n, "threads": threads, "reps": reps,
            "best_gflops": flops / min(ts) / 1e9, "median_gflops": flops / float(np.median(ts)) / 1e9}


def mode_torch_latency(spec: dict) -> dict:
    """Torch eager reference: the checkpoint's inference module, same inputs as the artifacts."""
    import torch
    from lrdif.export.graph import load_inference
    from lrdif.sdk.backends.base import preprocess
    torch.set_num_threads(int(spec["threads"]))
    t0 = time.perf_counter()
    graph = load_inference(spec["checkpoint"], steps=spec.get("steps"))
    mod = graph.module
    t_load = time.perf_counter() - t0
    crops, lm = synthetic_inputs(graph.metadata.input_size)
    ti, tl = torch.from_numpy(preprocess(crops, graph.metadata)), torch.from_numpy(lm)
    with torch.inference_mode():
        t1 = time.perf_counter()
        mod(ti, tl)
        t_first = time.perf_counter() - t1
        ms = time_loop(lambda: mod(ti, tl), int(spec["warmup"]), int(spec["iters"]))
    return {"runtime": "torch", "threads": int(spec["threads"]), "load_s": t_load,
            "first_inference_s": t_first, "cold_start_s": t_load + t_first, "steady": _stats(ms)}


def mode_pipeline(spec: dict) -> dict:
    from benchmarks import pipeline
    return pipeline.child_measure(spec)


MODES = {"latency": mode_latency, "predict": mode_predict, "peer": mode_peer, "gemm": mode_gemm,
         "torch_latency": mode_torch_latency, "pipeline": mode_pipeline}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    out: dict
    try:
        out = MODES[spec["mode"]](spec)
        out["ok"] = True
    except Exception as e:  # report, don't hide: the parent records the error
        import traceback
        out = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
    out["child_maxrss_mb_self"] = _maxrss_mb()
    out["vmhwm_mb"] = _vmhwm_mb()
    out["child_wall_s"] = time.perf_counter() - T_START
    Path(spec["result"]).write_text(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
