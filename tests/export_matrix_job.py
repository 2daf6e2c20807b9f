"""The export matrix of the test session (no tests here): every `lrdif-export` target x {fp32, int8}
of the untrained `tiny` preset (with the FaceMesh emotion fork), made ONCE per pytest session and shared by test_export.py (CLI,
report, artifacts, metadata, the int8 artifacts through the SDK) and test_backends.py (the LiteRT
and ExecuTorch backends on real exported files).

It is ONE `lrdif-export --target all --int8 --keep-float` run into one folder, exactly as the CLI
is used (`main(argv)`): every float variant first, then the int8 ones, ONNX / TFLite / CoreML
quantised from the float files of the same run (one conversion per target; ExecuTorch lowers
twice). Calibration / verification use the 64-image shared test file.

The conftest runs `python tests/export_matrix_job.py ROOT NPZ` as a child process, started when the
collected tests need it, so that on a 2-core machine it overlaps with the other tests (the tests
that use it run last). The float half is ready as soon as `report.json` (written after every
entry) holds every target's fp32 entry (`float_ready`): what the benchmarks smoke run measures
(test_benchmarks_smoke.py) while the int8 half goes on; `ROOT/result.json` (the exit status)
appears when the run is done.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

VERIFY_N = 32         # verification crops per set (clean, UDC)
CALIB_N = 32          # int8 calibration crops (--allow-small-calib: tests only)


def write_tiny_checkpoint(path: Path) -> Path:
    """The untrained `tiny` preset (torch seed 0) with a FaceMesh emotion fork (the shipped model's
    structure, at FaceMesh's smallest input, 64 px) saved as a stage-2 checkpoint."""
    from lrdif.training.checkpoint import write_untrained

    return write_untrained(path, "tiny", seed=0, fork_size=64)


def paths(root: Path) -> dict[str, Path]:
    root = Path(root)
    return {"checkpoint": root / "ckpt" / "tiny.pt", "out": root / "export", "report": root / "export" / "report.json",
            "result": root / "result.json", "log": root / "export_matrix.log"}


def build(root: Path, data: Path) -> dict:
    """Write the checkpoint and run the export into `paths(root)["out"]`; `result.json` last (atomically:
    the conftest polls for it)."""
    from lrdif.export.cli import main
    from lrdif.sdk.fileio import atomic_write_bytes

    p = paths(root)
    ckpt = write_tiny_checkpoint(p["checkpoint"])
    rc = main(["--target", "all", "--int8", "--keep-float", "--checkpoint", str(ckpt), "--out", str(p["out"]),
               "--verify-data", str(data), "--verify-size", str(VERIFY_N),
               "--calib", str(data), "--calib-size", str(CALIB_N), "--allow-small-calib", "-q"])
    result = {"rc": rc}
    atomic_write_bytes(p["result"], json.dumps(result).encode())
    return result


def _float_entries(root: Path) -> dict | None:
    """The report's fp32 entries once every target has one, else None."""
    from lrdif.export.targets import TARGETS

    try:
        entries = json.loads(paths(root)["report"].read_text())["entries"]
    except (OSError, ValueError, KeyError):
        return None
    found = {t: entries.get(f"{t}-fp32") for t in TARGETS}
    return found if all(found.values()) else None


def float_ready(root: Path) -> bool:
    return _float_entries(root) is not None


def load_float(root: Path) -> dict:
    """The float half: {"checkpoint", "rc": 0 when every fp32 entry is ok else 1, "artifacts": {target:
    fp32 path or None}}."""
    entries = _float_entries(root)
    assert entries is not None, f"the export matrix has no complete float half in {paths(root)['report']}"
    return {"checkpoint": paths(root)["checkpoint"],
            "rc": 0 if all(e["status"] == "ok" for e in entries.values()) else 1,
            "artifacts": {t: e.get("artifact") for t, e in entries.items()}}


def load(root: Path) -> dict:
    """What the tests read: {"out", "checkpoint", "rc": the run's exit status, "report"}."""
    p = paths(root)
    result = json.loads(p["result"].read_text())
    return {"out": p["out"], "checkpoint": p["checkpoint"], "rc": result["rc"],
            "report": json.loads(p["report"].read_text())}


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
