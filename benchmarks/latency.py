"""Per-artifact latency: a fresh process per (artifact, threads, repeat); repeats interleaved."""
from __future__ import annotations

from benchmarks.proc import run_child
from benchmarks.stats import aggregate

FIELDS = {
    "cold_start_ms": "cold_start_s", "load_ms": "load_s", "first_inference_ms": "first_inference_s",
    "import_ms": "import_s", "process_wall_ms": "process_wall_s",
    "p50_ms": "steady.p50_ms", "p90_ms": "steady.p90_ms", "p99_ms": "steady.p99_ms",
    "mean_ms": "steady.mean_ms", "min_ms": "steady.min_ms",
    "peak_rss_mb": "peak_rss_mb", "rss_after_import_mb": "rss_after_import_mb", "rss_end_mb": "rss_end_mb",
    "ctx_switches_involuntary": "ctx_switches_involuntary",
}
SECONDS_TO_MS = {"cold_start_ms", "load_ms", "first_inference_ms", "import_ms", "process_wall_ms"}



def _summary(res: dict) -> str:
    if not res.get("ok"):
        return f"FAILED {res.get('error')}"
    parts = []
    p50 = (res.get("steady") or {}).get("p50_ms")
    if p50 is not None:
        parts.append(f"p50 {p50:.3f} ms")
    for fr, d in (res.get("frames") or {}).items():
        parts.append(f"{fr} {d['faces']} face(s) {d['frame']['p50_ms']:.2f} ms/frame")
    if res.get("cold_start_s") is not None:
        parts.append(f"cold {res['cold_start_s'] * 1e3:.1f} ms")
    parts.append(f"peak RSS {res['peak_rss_mb']:.0f} MB")
    return ", ".join(parts)


def measure(configs: list[dict], repeats: int, warmup: int, iters: int, log=print,
            fields: dict[str, str] | None = None) -> list[dict]:
    """configs: {"key", "spec"(child spec without threads), "threads", plus descriptive fields}.
    Repeat r runs every config once, starting at a rotated offset, so slow drift of the machine's
    load spreads over all configs instead of biasing the ones measured last."""
    raw: dict[str, list[dict]] = {c["key"]: [] for c in configs}
    n = len(configs)
    for r in range(repeats):
        for i in range(n):
            c = configs[(i + r) % n]
            spec = dict(c["spec"], warmup=warmup, iters=iters)
            res = run_child(spec, threads=c["threads"])
            raw[c["key"]].append(res)
            log(f"  [{r + 1}/{repeats}] {c['key']}: {_summary(res)}")
    out = []
    for c in configs:
        runs = raw[c["key"]]
        agg = aggregate(runs, fields or FIELDS)
        for k in SECONDS_TO_MS:
            if agg.get(k) is not None:
                agg[k] *= 1e3
        if agg.get("rss_end_mb") is not None and agg.get("rss_after_import_mb") is not None:
            agg["model_rss_mb"] = agg["rss_end_mb"] - agg["rss_after_import_mb"]
        row = {k: v for k, v in c.items() if k != "spec"}
        row.update(agg)
        row["runs"] = [{k: r.get(k) for k in ("ok", "error", "steady", "cold_start_s", "load_s", "first_inference_s",
                                               "import_s", "peak_rss_mb", "process_wall_s", "loadavg_before",
                                               "loadavg_after", "ctx_switches_involuntary", "cpu_user_s")}
                       for r in runs]
        out.append(row)
    return out
