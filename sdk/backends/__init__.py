"""Emotion-model runners, one small class per runtime, configured only from the artifact's embedded
metadata (`lrdif.sdk.metadata.ModelMetadata`).

    backend = load_backend("lrdif-mobile.onnx")            # backend="auto": by file type
    probs, logits = backend.run(crops_uint8_rgb, crop_landmarks)

Runtimes: onnxruntime (default), tflite (ai_edge_litert), executorch (needs torch; imported only
when chosen), coreml (macOS only). Every loading failure raises ModelLoadError naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path

from lrdif.sdk.backends.base import Backend, ModelLoadError, ModelNotFoundError, describe

__all__ = ["BACKENDS", "Backend", "ModelLoadError", "ModelNotFoundError", "detect_backend", "load_backend"]

BACKENDS = ("onnxruntime", "tflite", "executorch", "coreml")
_SUFFIXES = {".onnx": "onnxruntime", ".tflite": "tflite", ".pte": "executorch",
             ".mlpackage": "coreml", ".mlmodel": "coreml"}


def detect_backend(model: "str | os.PathLike | bytes") -> str:
    """The backend for a model: by file suffix, or for bytes by magic number (TFLite 'TFL3',
    ExecuTorch 'ET..' at offset 4; anything else is treated as ONNX)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        head = bytes(model[:8])
        if head[4:8] == b"TFL3":
            return "tflite"
        if head[4:6] == b"ET":
            return "executorch"
        return "onnxruntime"
    suffix = Path(model).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise ModelLoadError(f"{describe(model)}: cannot tell the runtime from the suffix "
                             f"{suffix or '(none)'}; use one of {sorted(_SUFFIXES)} or pass backend="
                             f"one of {list(BACKENDS)}") from None


def load_backend(model: "str | os.PathLike | bytes", backend: str = "auto",
                 num_threads: "int | None" = None) -> Backend:
    """Load an emotion-model artifact with the given runtime ('auto' = by file type)."""
    if backend == "auto":
        backend = detect_backend(model)
    if backend == "onnxruntime":
        from lrdif.sdk.backends.onnx_runtime import OnnxRuntimeBackend as cls
    elif backend == "tflite":
        from lrdif.sdk.backends.litert import LiteRTBackend as cls
    elif backend == "executorch":
        from lrdif.sdk.backends.executorch_backend import ExecuTorchBackend as cls
    elif backend == "coreml":
        from lrdif.sdk.backends.coreml import CoreMLBackend as cls
    else:
        raise ValueError(f"backend must be one of {['auto', *BACKENDS]}, got {backend!r}")
    return cls(model, num_threads=num_threads)
