"""Emotion-model runners, one small class per runtime, configured only from the artifact's embedded
metadata (`lrdif.sdk.metadata.ModelMetadata`).

    backend = load_backend("lrdif-mobile.tflite")          # backend="auto": by file type
    probs, logits = backend.run(crops_uint8_rgb, crop_landmarks)

Runtimes: onnxruntime (default), tflite (ai_edge_litert), executorch (needs torch; imported only
when chosen), coreml (macOS only). Every loading failure raises ModelLoadError naming the file.
"""
from __future__ import annotations

import os

from lrdif.sdk.backends.base import Backend, ModelLoadError, ModelNotFoundError, preprocess

__all__ = ["BACKENDS", "Backend", "ModelLoadError", "ModelNotFoundError", "detect_backend", "load_backend",
           "preprocess"]

BACKENDS = ("onnxruntime", "tflite", "executorch", "coreml")
_FORMAT_BACKEND = {"onnx": "onnxruntime", "tflite": "tflite", "executorch": "executorch", "coreml": "coreml"}


def detect_backend(model: "str | os.PathLike | bytes") -> str:
    """The backend for a model, from its file type (`artifact_metadata.detect_format`: the suffix,
    or for bytes the magic number)."""
    from lrdif.sdk.artifact_metadata import MetadataError, detect_format

    try:
        return _FORMAT_BACKEND[detect_format(model)]
    except MetadataError as e:
        raise ModelLoadError(f"{e}; or pass backend= one of {list(BACKENDS)}") from None


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
