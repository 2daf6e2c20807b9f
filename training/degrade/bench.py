"""Throughput of the degradations: `python -m lrdif.training.degrade.bench [--threads 1 2] [--sizes 64 112]`.

Times `deg(x, generator)` on batches of 256 random images (after one warm-up call that builds the
PSF kernels / OTFs) and prints images/s per kind, size and thread count, both per CPU-second of
this process (time.process_time: robust on a shared, overloaded machine; with 2 threads it sums
both threads) and per wall-clock second (meaningful only on an idle machine).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from . import KINDS, MixedDegradation, make_degradation


def measure(kind: str, size: int, threads: int, batch: int = 256, repeats: int = 2) -> tuple[float, float]:
    """(images per CPU-second, images per wall-second), best of `repeats`."""
    torch.set_num_threads(threads)
    deg = MixedDegradation() if kind == "mixed" else make_degradation(kind)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=g)
    with torch.inference_mode():
        deg(x[:8], g)  # warm-up: kernels, OTFs
        cpu = wall = float("inf")
        for _ in range(repeats):
            c, w = time.process_time(), time.perf_counter()
            deg(x, g)
            cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
    return batch / cpu, batch / wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 112])
    p.add_argument("--kinds", nargs="+", default=[k for k in KINDS if k != "none"] + ["mixed"])
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f}  torch {torch.__version__}")
    print("| kind | size | threads | images / CPU-s | images / wall-s |\n|---|---|---|---|---|")
    for kind in a.kinds:
        for size in a.sizes:
            for th in a.threads:
                per_cpu, per_wall = measure(kind, size, th, a.batch)
                print(f"| {kind} | {size} | {th} | {per_cpu:.0f} | {per_wall:.0f} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
