"""Aggregation across repeats: medians, spread (coefficient of variation), noise summary."""
from __future__ import annotations

import statistics

import numpy as np


def latency_stats(ms: list[float]) -> dict:
    """Percentiles / mean / spread of one process's per-call latencies (milliseconds)."""
    a = np.asarray(ms, np.float64)
    return {"n": int(a.size), "p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()), "min_ms": float(a.min()),
            "max_ms": float(a.max()), "std_ms": float(a.std())}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cv(xs):
    """Coefficient of variation (population std / mean) across repeats; None for < 2 values."""
    xs = [x for x in xs if x is not None]
    if len(xs) < 2:
        return None
    m = statistics.fmean(xs)
    return statistics.pstdev(xs) / m if m else None


def get(d: dict, dotted: str):
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def aggregate(runs: list[dict], fields: dict[str, str]) -> dict:
    """`fields` maps output name -> dotted key in each run; returns median and CV of each."""
    ok = [r for r in runs if r.get("ok")]
    out = {"repeats_ok": len(ok), "repeats": len(runs)}
    for name, key in fields.items():
        vals = [get(r, key) for r in ok]
        out[name] = median(vals)
        out[name + "_cv"] = cv(vals)
    errors = [r.get("error") for r in runs if not r.get("ok")]
    if errors:
        out["errors"] = errors[:3]
    return out
