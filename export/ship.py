"""Install an exported float ONNX model as the SDK's shipped default (maintainers' step).

    python -m lrdif.export.ship OUT_DIR_OF_lrdif-export

Copies the single float `.onnx` from the export folder to `lrdif/sdk/models/lrdif-mobile.onnx`
(atomically) after checking its embedded metadata, and pins it in `manifest.json` by sha256, which
`lrdif.sdk.models.default_model_path()` verifies on every load.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lrdif.sdk.artifact_metadata import read_metadata
from lrdif.sdk.models import MANIFEST, MODELS_DIR

DEFAULT_FILE = "lrdif-mobile.onnx"


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=dst.parent, suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ship(export_dir: Path) -> Path:
    candidates = [p for p in sorted(Path(export_dir).glob("*.onnx"))
                  if read_metadata(p).quantisation == "none"]
    if len(candidates) != 1:
        raise SystemExit(f"lrdif ship: expected exactly one float .onnx in {export_dir}, "
                         f"found {[p.name for p in candidates]}")
    src = candidates[0]
    md = read_metadata(src)
    dst = MODELS_DIR / DEFAULT_FILE
    _atomic_copy(src, dst)
    sha = hashlib.sha256(dst.read_bytes()).hexdigest()
    manifest = {"file": DEFAULT_FILE, "sha256": sha, "model_version": md.model_version,
                "weights_sha256": md.weights_sha256}
    fd, tmp = tempfile.mkstemp(dir=MODELS_DIR, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, MANIFEST)
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
