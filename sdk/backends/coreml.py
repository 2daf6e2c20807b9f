"""Core ML runner (coremltools). Core ML models run only on macOS; elsewhere loading raises a clear
ModelLoadError before touching the file's contents."""
from __future__ import annotations

import sys

import numpy as np

from lrdif.sdk.backends.base import Backend, ModelLoadError, dim, load_artifact_metadata, validate_io
from lrdif.sdk.metadata import ModelMetadata


class CoreMLBackend(Backend):
    name = "coreml"
    target = "coreml"

    def _load(self, model: "str | bytes") -> ModelMetadata:
        if sys.platform != "darwin":
            raise ModelLoadError(f"{self.source}: CoreML models run only on macOS (this is "
                                 f"{sys.platform}); use the .onnx or .tflite artifact here")
        if isinstance(model, bytes):
            raise ModelLoadError("CoreML models must be given as a .mlpackage/.mlmodel path, not bytes")
        try:
            import coremltools as ct

            units = ct.ComputeUnit.CPU_ONLY if self.num_threads == 1 else ct.ComputeUnit.ALL
            self._model = ct.models.MLModel(model, compute_units=units)
            spec = self._model.get_spec()
        except ImportError as e:
            raise ModelLoadError(f"{self.source}: the CoreML backend needs coremltools: {e}") from None
        except Exception as e:
            raise ModelLoadError(f"{self.source}: cannot be loaded by Core ML: {e}") from None
        meta = load_artifact_metadata(model, self.source)

        def shapes(feats):
            out = []
            for f in feats:
                t = f.type.multiArrayType
                out.append((f.name, tuple(dim(d) for d in t.shape) if len(t.shape) else None))
            return out

        validate_io(meta, self.source, shapes(spec.description.input), shapes(spec.description.output))
        return meta

    def _run_batch(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (i_name, l_name), (p_name, g_name) = self.metadata.input_names, self.metadata.output_names
        out = self._model.predict({i_name: image, l_name: landmarks})
        return np.asarray(out[p_name]), np.asarray(out[g_name])

    def _release(self) -> None:
        self._model = None
