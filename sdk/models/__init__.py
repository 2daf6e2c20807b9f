"""The shipped default emotion model (today `lrdif-mobile.tflite`, chosen by measured pipeline
latency; `python -m lrdif.export.ship`), named and pinned by `manifest.json` ({"file": ...,
"sha256": ...}) beside this file. `default_model_path()` verifies the sha256 on every load, so a
truncated, corrupted or replaced file is refused with a clear error."""
from __future__ import annotations

import json
from pathlib import Path

from lrdif.sdk.assets import sha256_file
from lrdif.sdk.backends.base import ModelLoadError, ModelNotFoundError

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.json"

__all__ = ["MANIFEST", "MODELS_DIR", "default_model_path", "read_manifest"]


def read_manifest(manifest: "str | Path" = MANIFEST) -> dict:
    """The manifest as {"file": name, "sha256": hex}; raises ModelLoadError/ModelNotFoundError."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ModelNotFoundError(
            f"the default emotion model's manifest {manifest} is missing: this lrdif build ships no "
            f"default model; pass model_path= (an exported .onnx/.tflite/.pte) instead")
    try:
        m = json.loads(manifest.read_text())
        file, sha = m["file"], m["sha256"]
        if not (isinstance(file, str) and isinstance(sha, str) and len(sha) == 64):
            raise ValueError("'file' must be a name and 'sha256' 64 hex digits")
    except (ValueError, KeyError, TypeError) as e:
        raise ModelLoadError(f"{manifest} is not a valid model manifest: {e}") from None
    if Path(file).name != file:
        raise ModelLoadError(f"{manifest}: 'file' must be a plain file name, got {file!r}")
    return {"file": file, "sha256": sha.lower()}


def default_model_path(manifest: "str | Path" = MANIFEST) -> Path:
    """Path of the shipped default model after checking it against the manifest's sha256."""
    manifest = Path(manifest)
    m = read_manifest(manifest)
    path = manifest.parent / m["file"]
    if not path.is_file():
        raise ModelNotFoundError(f"the default emotion model {path} (listed in {manifest}) is missing; "
                                 f"reinstall lrdif or pass model_path=")
    got = sha256_file(path)
    if got != m["sha256"]:
        raise ModelLoadError(f"the default emotion model {path} failed its sha256 check (got "
                             f"{got}, manifest says {m['sha256']}): the file is corrupted "
                             f"or was replaced; reinstall lrdif")
    return path
