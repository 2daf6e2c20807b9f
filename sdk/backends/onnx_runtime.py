"""ONNX Runtime (CPU) runner: the default backend."""
from __future__ import annotations

import numpy as np

from lrdif.sdk.backends.base import Backend, ModelLoadError, dim, load_artifact_metadata, validate_io
from lrdif.sdk.metadata import ModelMetadata


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    target = "onnx"

    def _load(self, model: "str | bytes") -> ModelMetadata:
        import onnxruntime as ort

        meta = load_artifact_metadata(model, self.source)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if self.num_threads:
            opts.intra_op_num_threads = self.num_threads
        try:
            self._session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:   # InvalidProtobuf, Fail, NoSuchFile, ...
            raise ModelLoadError(f"{self.source}: cannot be loaded by onnxruntime (corrupt, truncated "
                                 f"or not an ONNX model): {str(e).strip().splitlines()[0][:300]}") from None
        sig = lambda args: [(a.name, tuple(dim(d) for d in a.shape)) for a in args]  # noqa: E731
        self._names = validate_io(meta, self.source, sig(self._session.get_inputs()),
                                  sig(self._session.get_outputs()))
        for a in self._session.get_inputs():
            if a.type != "tensor(float)":
                raise ModelLoadError(f"{self.source}: input '{a.name}' is {a.type}, expected tensor(float)")
        return meta

    def _run_batch(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (image_name, lm_name), (p_name, l_name) = self.metadata.input_names, self.metadata.output_names
        n = self._names
        probs, logits = self._session.run([n[p_name], n[l_name]], {n[image_name]: image, n[lm_name]: landmarks})
        return probs, logits

    def _release(self) -> None:
        self._session = None
