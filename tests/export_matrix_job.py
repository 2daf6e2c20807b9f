"""The export matrix of the test session (no tests here): every `lrdif-export` target x {fp32, int8}
of the untrained `tiny` preset, made ONCE per pytest session and shared by test_export.py (CLI,
report, artifacts, metadata, the int8 artifacts through the SDK) and test_backends.py (the LiteRT
and ExecuTorch backends on real exported files).

It is two `lrdif-export --target all` runs (float, then int8) in one Python process into one
folder, sharing one checkpoint, exactly as the CLI is used (`main(argv)`; the second run merges its
entries into the first run's report). Calibration / verification use the 64-image shared test file.

The conftest runs `python tests/export_matrix_job.py ROOT NPZ` as a child process, started when the
collected tests need it, so that on a 2-core machine it overlaps with the other tests (the tests
that use it run last); `ROOT/float.json` appears when the float run is done (its exit status and
fp32 artifacts: what the benchmarks smoke run measures, test_benchmarks_smoke.py), `ROOT/result.json`
when both are (the two exit statuses).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

VERIFY_N = 32         # verification crops per set (clean, UDC)
CALIB_N = 32          # int8 calibration crops (--allow-small-calib: tests only)


def write_tiny_checkpoint(path: Path) -> Path:
    """The untrained `tiny` preset (torch seed 0) saved as a stage-2 checkpoint."""
    import torch

    from lrdif.training.checkpoint import save_checkpoint
    from lrdif.training.model import LRDif, get_config

    torch.manual_seed(0)
    cfg = get_config("tiny")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, LRDif(cfg), cfg, stage=2, preset="tiny")
    return path


def paths(root: Path) -> dict[str, Path]:
    root = Path(root)
    return {"checkpoint": root / "ckpt" / "tiny.pt", "out": root / "export", "float": root / "float.json",
            "result": root / "result.json", "log": root / "export_matrix.log"}


def _write_json(path: Path, data: dict) -> None:
    """Atomically (the conftest polls for these files)."""
    from lrdif.sdk.fileio import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(data).encode())


def build(root: Path, data: Path) -> dict:
    """Write the checkpoint and run the float and the int8 export into `paths(root)["out"]`."""
    from lrdif.export.cli import main

    p = paths(root)
    ckpt = write_tiny_checkpoint(p["checkpoint"])
    common = ["--checkpoint", str(ckpt), "--out", str(p["out"]), "--verify-data", str(data),
              "--verify-size", str(VERIFY_N), "-q"]
    rc_float = main(["--target", "all", *common])
    entries = json.loads((p["out"] / "report.json").read_text())["entries"]
    _write_json(p["float"], {"rc": rc_float, "artifacts": {e["target"]: e.get("artifact") for k, e in entries.items()
                                                           if k.endswith("-fp32")}})
    rc_int8 = main(["--target", "all", "--int8", "--calib", str(data), "--calib-size", str(CALIB_N),
                    "--allow-small-calib", *common])
    result = {"rc": [rc_float, rc_int8]}
    _write_json(p["result"], result)
    return result


def load_float(root: Path) -> dict:
    """The float half: {"checkpoint", "rc": float run exit status, "artifacts": {target: fp32 path or None}}."""
    p = paths(root)
    d = json.loads(p["float"].read_text())
    return {"checkpoint": p["checkpoint"], "rc": d["rc"], "artifacts": d["artifacts"]}


def load(root: Path) -> dict:
    """What the tests read: {"out", "checkpoint", "rc": (float, int8), "report"}."""
    p = paths(root)
    result = json.loads(p["result"].read_text())
    return {"out": p["out"], "checkpoint": p["checkpoint"], "rc": tuple(result["rc"]),
            "report": json.loads((p["out"] / "report.json").read_text())}


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
