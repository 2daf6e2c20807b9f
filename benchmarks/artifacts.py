"""Find exported artifacts in a directory and describe them (runtime, quantisation, size, metadata)."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks.runners import runtime_of

RUNNABLE = (".onnx", ".tflite", ".pte")
NOT_RUNNABLE_HERE = (".mlpackage", ".mlmodel")      # CoreML: predict() exists only on macOS


def _read_metadata(path: Path) -> tuple[dict | None, str]:
    """The artifact's embedded lrdif metadata via the SDK reader; sidecars as a fallback."""
    try:
        from lrdif.sdk.artifact_metadata import read_metadata
        md = read_metadata(path)
        return (md.to_dict() if hasattr(md, "to_dict") else dict(md)), "lrdif.sdk.artifact_metadata"
    except ImportError:
        pass
    except Exception as e:  # a real problem with the artifact: record it (sidecars below first)
        err = {"error": f"{type(e).__name__}: {e}"[:300]}
    else:
        err = None
    for side in (Path(str(path) + ".bench.json"), path.with_suffix(".json"), Path(str(path) + ".json")):
        if side.exists():
            try:
                d = json.loads(side.read_text())
                return d.get("lrdif_metadata", d), f"sidecar {side.name}"
            except ValueError:
                continue
    return (err, "lrdif.sdk.artifact_metadata") if err else (None, "none")


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    n = path.stat().st_size
    data = Path(str(path) + ".data")           # ONNX external weights
    if data.exists():
        n += data.stat().st_size
    return n


def describe(path: Path) -> dict:
    path = Path(path)
    md, md_src = _read_metadata(path)          # CoreML packages carry the same metadata (read without predict)
    quant = (md or {}).get("quantisation") if isinstance(md, dict) else None
    if not quant or quant == "none":
        quant = "int8" if "int8" in path.name.lower() else (quant or "none")
    target = (md or {}).get("target") or {".onnx": "onnx", ".tflite": "tflite", ".pte": "executorch",
                                         ".mlpackage": "coreml", ".mlmodel": "coreml"}[path.suffix]
    return {"name": path.name, "path": str(path), "runtime": runtime_of(path) or "coreml",
            "target": target, "quantisation": quant, "precision": "int8" if "int8" in str(quant) else "fp32",
            "size_bytes": _size(path), "runnable": path.suffix in RUNNABLE,
            "metadata": md, "metadata_source": md_src,
            "preset": (md or {}).get("preset") if isinstance(md, dict) else None,
            "diffusion_steps": (md or {}).get("diffusion_steps") if isinstance(md, dict) else None}


def discover(directory: Path) -> tuple[list[dict], dict | None]:
    """All artifacts under `directory` (not recursive into .mlpackage), plus its report.json if any."""
    directory = Path(directory)
    found = []
    for p in sorted(directory.iterdir()):
        if p.suffix in RUNNABLE and p.is_file() or p.suffix in NOT_RUNNABLE_HERE:
            found.append(describe(p))
    report = None
    rp = directory / "report.json"
    if rp.exists():
        try:
            report = json.loads(rp.read_text())
        except ValueError:
            report = {"error": "report.json is not valid JSON"}
    return found, report
