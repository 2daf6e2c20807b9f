"""Install an exported model as the SDK's shipped default (maintainers' step).

    python -m lrdif.export.ship OUT_DIR_OF_lrdif-export [--format onnx|tflite] [--int8]

Copies the one artifact of that format and precision from the export folder to
`lrdif/sdk/models/lrdif-mobile.<ext>` (atomically) after checking its embedded metadata, pins it in
`manifest.json` by sha256 (which `lrdif.sdk.models.default_model_path()` verifies on every load), and
removes a previous default of another format. Which format ships is chosen by measured pipeline
latency (the pipeline section of `python -m benchmarks --artifacts DIR`, RESULTS.md); the SDK
picks the runtime from the file type.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from lrdif.sdk.artifact_metadata import read_metadata
from lrdif.sdk.fileio import atomic_write_bytes
from lrdif.sdk.models import MANIFEST, MODELS_DIR

FORMATS = {"onnx": ".onnx", "tflite": ".tflite"}
STEM = "lrdif-mobile"


def _candidate(export_dir: Path, fmt: str, int8: bool) -> Path:
    found = [p for p in sorted(Path(export_dir).glob(f"*{FORMATS[fmt]}"))
             if (read_metadata(p).quantisation != "none") == int8]
    if len(found) != 1:
        kind = "int8" if int8 else "float"
        raise SystemExit(f"lrdif ship: expected exactly one {kind} {FORMATS[fmt]} in {export_dir}, "
                         f"found {[p.name for p in found]}")
    return found[0]


def ship(export_dir: Path, fmt: str = "onnx", int8: bool = False, models_dir: Path = MODELS_DIR) -> Path:
    if fmt not in FORMATS:
        raise SystemExit(f"lrdif ship: --format must be one of {sorted(FORMATS)}, got {fmt!r}")
    src = _candidate(export_dir, fmt, int8)
    md = read_metadata(src)
    name = STEM + FORMATS[fmt]
    dst = Path(models_dir) / name
    atomic_write_bytes(dst, src.read_bytes())
    sha = hashlib.sha256(dst.read_bytes()).hexdigest()
    manifest = {"file": name, "sha256": sha, "model_version": md.model_version,
                "weights_sha256": md.weights_sha256, "quantisation": md.quantisation}
    atomic_write_bytes(Path(models_dir) / MANIFEST.name, (json.dumps(manifest, indent=2) + "\n").encode())
    for ext in FORMATS.values():                      # the manifest now names dst: drop the old default
        old = Path(models_dir) / (STEM + ext)
        if old != dst and old.exists():
            old.unlink()
    print(f"shipped {src} -> {dst} (sha256 {sha})")
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lrdif.export.ship", description=__doc__.split("\n\n")[0])
    ap.add_argument("export_dir")
    ap.add_argument("--format", default="onnx", choices=sorted(FORMATS))
    ap.add_argument("--int8", action="store_true")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    ship(Path(a.export_dir), a.format, a.int8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
