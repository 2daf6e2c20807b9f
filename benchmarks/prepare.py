"""Artifacts for a run without `--artifacts` (smoke runs): the untrained tiny preset exported by the
project's own `lrdif-export` (the one exporter; its metadata and report.json come with the files).
Which checkpoint and exporter ran is recorded in the results.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.sysinfo import ROOT

EXPORTER = "lrdif-export --no-verify (the harness measures accuracy itself)"


def export_with_cli(checkpoint: Path, out_dir: Path, targets: list[str], int8: bool, log=print,
                    extra: tuple[str, ...] = ()) -> dict:
    """One `lrdif-export --target T [--int8] --no-verify *extra` process per target into `out_dir`:
    {target: returncode, seconds, tail}."""
    res = {}
    for tgt in targets:
        cmd = [sys.executable, "-m", "lrdif.export.cli", "--target", tgt, "--checkpoint", str(checkpoint),
               "--out", str(out_dir), "--no-verify", "-q", *extra] + (["--int8"] if int8 else [])
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        res[tgt] = {"returncode": p.returncode, "seconds": time.perf_counter() - t0,
                    "tail": (p.stdout + p.stderr)[-800:] if p.returncode else ""}
        log(f"  lrdif-export --target {tgt}{' --int8' if int8 else ''}: rc={p.returncode} "
            f"({res[tgt]['seconds']:.1f} s)")
    return res


def prepare_smoke_artifacts(out_dir: Path, targets=("onnx", "tflite", "executorch"), int8: bool = False,
                            log=print, extra: tuple[str, ...] = ()) -> dict:
    """Export the untrained tiny preset into `out_dir` (`extra`: more lrdif-export flags); returns a
    provenance record. Raises RuntimeError naming the failed targets when lrdif-export made none."""
    from lrdif.training.checkpoint import write_untrained

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ck = write_untrained(out_dir / "tiny_untrained.pt", "tiny", seed=0)
    info: dict = {"dir": str(out_dir), "model": "tiny preset (random init, untrained)", "checkpoint": str(ck),
                  "exporter": " ".join((EXPORTER, *extra))}
    info["export"] = export_with_cli(ck, out_dir, list(targets), int8, log, extra)
    failed = {t: r["tail"] for t, r in info["export"].items() if r["returncode"]}
    if len(failed) == len(info["export"]):
        raise RuntimeError(f"lrdif-export made no artifact: {failed}")
    return info
