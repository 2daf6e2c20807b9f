"""`OUT/report.json` + `OUT/report.md`: what was exported and how it verified.

Entries are keyed `<target>-<variant>` (variant fp32 | fp16 | int8 | int8-fp16) and merged into an
existing report in the same folder, so a float run and an int8 run into one `--out` give one report.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrdif.sdk.assets import atomic_write_bytes

FLOAT_AGREEMENT_BAR = 99.9   # % top-1 agreement of a float artifact with torch fp32
INT8_ACCURACY_BAR = 1.0      # points of accuracy an int8 artifact may lose against torch fp32


def bars(entry: dict[str, Any]) -> dict[str, Any]:
    """Evaluate the release bars on an entry's measured (or, for CoreML on Linux, simulated) sets."""
    out: dict[str, Any] = {}
    int8 = entry.get("variant", "").startswith("int8")
    sets = entry.get("sets") or (entry.get("simulated") or {}).get("sets")
    source = "measured" if entry.get("sets") else ("simulated in torch" if sets else None)
    if not sets:
        out["status"] = "not evaluated (no numerics on this platform)"
        return out
    for name, s in sets.items():
        if int8:
            drop = s["torch_fp32_accuracy"] - s["accuracy"]
            out[name] = {"bar": f"int8 accuracy within {INT8_ACCURACY_BAR} point of fp32", "drop_points": round(drop, 3),
                         "pass": bool(drop <= INT8_ACCURACY_BAR)}
        else:
            out[name] = {"bar": f"top-1 agreement >= {FLOAT_AGREEMENT_BAR}%", "agreement": s["top1_agreement"],
                         "pass": bool(s["top1_agreement"] >= FLOAT_AGREEMENT_BAR)}
    out["source"] = source
    return out


def load(out_dir: Path) -> dict[str, Any]:
    p = Path(out_dir) / "report.json"
    if p.is_file():
        try:
            d = json.loads(p.read_text())
            if isinstance(d, dict) and isinstance(d.get("entries"), dict):
                return d
        except ValueError:
            pass
    return {"entries": {}}


def _fmt(v: Any, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = [["target", "variant", "status", "size KB", "max|dp| clean", "agree% clean", "acc clean",
             "acc udc", "fp32 clean/udc", "ms", "bars"]]
    for key, e in sorted(report["entries"].items()):
        sets = e.get("sets") or (e.get("simulated") or {}).get("sets") or {}
        c, u = sets.get("clean", {}), sets.get("udc", {})
        sim = "*" if not e.get("sets") and sets else ""
        b = e.get("bars") or {}
        passes = [v["pass"] for v in b.values() if isinstance(v, dict) and "pass" in v]
        bar = "-" if not passes else ("pass" if all(passes) else "FAIL")
        rows.append([e.get("target", key), e.get("variant", ""), e.get("status", "?"),
                     _fmt(e.get("size_bytes", 0) / 1024, ".0f") if e.get("size_bytes") else "-",
                     _fmt(c.get("max_abs_prob_diff"), ".1e"), _fmt(c.get("top1_agreement")),
                     _fmt(c.get("accuracy")) + sim, _fmt(u.get("accuracy")) + sim,
                     f"{_fmt(c.get('torch_fp32_accuracy'))}/{_fmt(u.get('torch_fp32_accuracy'))}",
                     _fmt(e.get("latency_ms_batch1")), bar])
    return rows


def table(rows: list[list[str]], markdown: bool = False) -> str:
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in w) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    return "\n".join("  ".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows)


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# lrdif export report", ""]
    run = report.get("run", {})
    for k in ("checkpoint", "preset", "steps", "labels", "created"):
        if k in run:
            lines.append(f"- {k}: {run[k]}")
    for k in ("calibration", "verification"):
        if report.get(k):
            lines.append(f"- {k}: `{json.dumps(report[k], sort_keys=True)}`")
    lines += ["", table(summary_rows(report), markdown=True), "",
              "`*` = simulated in torch (CoreML numerics need macOS). Accuracy in %, on real FERPlus crops; "
              "`fp32` = the torch fp32 model on the same crops. Bars: float top-1 agreement >= "
              f"{FLOAT_AGREEMENT_BAR}%, int8 accuracy within {INT8_ACCURACY_BAR} point of fp32.", ""]
    for key, e in sorted(report["entries"].items()):
        lines += [f"## {key}", ""]
        for k in ("status", "error", "artifact", "size_bytes", "quantisation", "int8_meaning", "runtime",
                  "numerics", "export_seconds", "latency_ms_batch1", "threads", "delegate_partitions",
                  "ops_outside_delegate", "checks"):
            if k in e:
                lines.append(f"- {k}: {e[k]}")
        for k in ("sets", "simulated", "bars", "inputs", "outputs", "mil_ops", "opset"):
            if k in e:
                lines.append(f"- {k}: `{json.dumps(e[k], sort_keys=True)}`")
        lines.append("")
    return "\n".join(lines)


def write(out_dir: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    j, m = out_dir / "report.json", out_dir / "report.md"
    atomic_write_bytes(j, json.dumps(report, indent=1, sort_keys=True, default=str).encode())
    atomic_write_bytes(m, to_markdown(report).encode())
    return j, m
