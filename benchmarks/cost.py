"""Model cost: parameters, FLOPs/MACs (torch FlopCounterMode), peak GEMM throughput of this CPU."""
from __future__ import annotations

from benchmarks.proc import run_child


def model_cost(checkpoint: str | None, steps: int | None = None) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from lrdif.export.graph import load_inference
    graph = load_inference(checkpoint, steps)
    mod, s = graph.module, int(graph.cfg.input_size)
    img, lm = torch.zeros(1, 3, s, s), torch.full((1, 468, 2), 0.5)
    params = sum(p.numel() for p in mod.parameters())
    buffers = sum(b.numel() for b in mod.buffers())
    fc = FlopCounterMode(display=False)
    with torch.inference_mode(), fc:
        mod(img, lm)
    flops = int(fc.get_total_flops())
    by_op = {str(k): int(v) for k, v in sorted(fc.get_flop_counts().get("Global", {}).items(),
                                               key=lambda kv: -kv[1])}
    return {"params": int(params), "buffers": int(buffers), "flops": flops, "macs": flops // 2,
            "input": [1, 3, s, s], "flops_by_op": by_op,
            "method": "torch.utils.flop_counter.FlopCounterMode on the inference module, batch 1; "
                      "counts matmul/conv/attention FLOPs (2 per MAC), not element-wise ops"}


def peak_gemm(n: int = 2048, reps: int = 5, threads=(1, 2), backends=("numpy", "torch")) -> list[dict]:
    """Large square float32 GEMM in a fresh process per (backend, threads): best-of-`reps` GFLOP/s."""
    out = []
    for b in backends:
        for t in threads:
            r = run_child({"mode": "gemm", "backend": b, "n": n, "reps": reps}, threads=t)
            out.append({k: r.get(k) for k in ("backend", "n", "threads", "reps", "best_gflops",
                                               "median_gflops", "ok", "error", "loadavg_before")})
    return out
