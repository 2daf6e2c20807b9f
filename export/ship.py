"""Install an exported float ONNX model as the SDK's shipped default (maintainers' step).

    python -m lrdif.export.ship OUT_DIR_OF_lrdif-export

Copies the single float `.onnx` from the export folder to `lrdif/sdk/models/lrdif-mobile.onnx`
(atomically) after checking its embedded metadata, and pins it in `manifest.json` by sha256, which
`lrdif.sdk.models.default_model_path()` verifies on every load.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from lrdif.sdk.artifact_metadata import read_metadata
from lrdif.sdk.fileio import atomic_write_bytes
from lrdif.sdk.models import MANIFEST, MODELS_DIR

DEFAULT_FILE = "lrdif-mobile.onnx"


def ship(export_dir: Path) -> Path:
    candidates = [p for p in sorted(Path(export_dir).glob("*.onnx"))
                  if read_metadata(p).quantisation == "none"]
    if len(candidates) != 1:
        raise SystemExit(f"lrdif ship: expected exactly one float .onnx in {export_dir}, "
                         f"found {[p.name for p in candidates]}")
    src = candidates[0]
    md = read_metadata(src)
    dst = MODELS_DIR / DEFAULT_FILE
    atomic_write_bytes(dst, src.read_bytes())
    sha = hashlib.sha256(dst.read_bytes()).hexdigest()
    manifest = {"file": DEFAULT_FILE, "sha256": sha, "model_version": md.model_version,
                "weights_sha256": md.weights_sha256}
    atomic_write_bytes(MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    print(f"shipped {src} -> {dst} (sha256 {sha})")
    return dst


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    ship(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
