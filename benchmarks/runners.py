"""Runners for one exported emotion model (used inside child processes).

Every lrdif artifact runs through the SDK's own backend (`lrdif.sdk.backends.load_backend`, the
product path: uint8 crops in, the SDK's preprocessing from the artifact's metadata, the SDK's
int8 handling), so latency and accuracy are those of what users run. The torch reference feeds the
checkpoint's inference module the same `lrdif.sdk.backends.preprocess` output. The `fer` peer
model (not an lrdif artifact) runs in a plain LiteRT interpreter with the SDK's int8 helper.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lrdif.sdk.backends.quant import dequantise, quantise

RUNTIME_BY_SUFFIX = {".onnx": "onnxruntime", ".tflite": "litert", ".pte": "executorch"}
_SDK_BACKEND = {"onnxruntime": "onnxruntime", "litert": "tflite", "executorch": "executorch"}


def runtime_of(path: str | Path) -> str | None:
    return RUNTIME_BY_SUFFIX.get(Path(path).suffix.lower())


class Runner:
    """`predict(crops (B,S,S,3) uint8 RGB, landmarks (B,468,2) float32) -> (B, K) logits`."""
    runtime = "?"
    fixed_batch: int = 0          # 0 = any batch size
    image_layout = "NCHW"
    input_size: int = 64

    def predict(self, crops: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_batched(self, crops: np.ndarray, landmarks: np.ndarray, batch: int = 64) -> np.ndarray:
        bs = self.fixed_batch or batch
        return np.concatenate([self.predict(crops[i:i + bs], landmarks[i:i + bs]) for i in range(0, len(crops), bs)])


class SdkRunner(Runner):
    """An lrdif artifact through `lrdif.sdk.backends.load_backend` (pads fixed-batch tails itself)."""

    def __init__(self, path: str, threads: int):
        from lrdif.sdk.backends import load_backend
        self.runtime = runtime_of(path) or "?"
        self.backend = load_backend(path, backend=_SDK_BACKEND.get(self.runtime, "auto"), num_threads=threads)
        md = self.backend.metadata
        self.fixed_batch, self.input_size, self.image_layout = md.batch, md.input_size, md.input_layout

    def predict(self, crops, landmarks):
        return self.backend.run(crops, landmarks)[1]


def open_runner(path: str | Path, threads: int) -> Runner:
    if runtime_of(path) is None:
        raise ValueError(f"no runner for {path}")
    if runtime_of(path) == "executorch":
        import torch  # the ExecuTorch Python runtime links torch's libraries
        torch.set_num_threads(threads)
        try:
            from executorch.extension.pybindings import portable_lib
            portable_lib._unsafe_reset_threadpool(threads)
        except Exception:  # older/newer runtimes: rely on the default pool
            pass
    return SdkRunner(str(path), threads)


class PeerFerRunner:
    """The `fer` package's FER2013 TFLite: 64x64x1 gray in [-1, 1], 7 FER2013-order outputs."""
    runtime = "litert"

    def __init__(self, path: str, threads: int):
        from ai_edge_litert.interpreter import Interpreter
        self.it = Interpreter(model_path=str(path), num_threads=threads)
        self.it.allocate_tensors()
        self.image_in = next(d for d in self.it.get_input_details() if len(d["shape"]) == 4)
        self.out = self.it.get_output_details()[0]

    def predict_gray(self, gray64: np.ndarray) -> np.ndarray:   # (B, 64, 64) uint8
        x = ((gray64.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]
        outs = []
        for i in range(len(x)):
            self.it.set_tensor(self.image_in["index"], quantise(x[i:i + 1], self.image_in["dtype"],
                                                                self.image_in["quantization"]))
            self.it.invoke()
            outs.append(dequantise(self.it.get_tensor(self.out["index"]), self.out["quantization"]))
        return np.concatenate(outs)


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        env[k] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


class TorchRunner(Runner):
    """The checkpoint's torch inference module (the reference beside the artifacts), fed by the
    SDK's `preprocess` with the checkpoint's metadata."""
    runtime = "torch"

    def __init__(self, checkpoint: str, threads: int, steps: int | None = None):
        import torch

        from lrdif.export.graph import load_inference
        torch.set_num_threads(threads)
        self.torch = torch
        graph = load_inference(checkpoint, steps)
        self.mod, self.meta = graph.module, graph.metadata
        self.input_size = self.meta.input_size

    def predict(self, crops, landmarks):
        from lrdif.sdk.backends.base import preprocess
        with self.torch.inference_mode():
            return self.mod(self.torch.from_numpy(preprocess(crops, self.meta)),
                            self.torch.from_numpy(np.ascontiguousarray(landmarks, np.float32)))[1].numpy()


def open_any(artifact: str, threads: int, steps: int | None = None) -> Runner:
    """An artifact path, or "torch:<checkpoint>" for the torch reference."""
    if str(artifact).startswith("torch:"):
        return TorchRunner(str(artifact)[len("torch:"):], threads, steps)
    return open_runner(artifact, threads)
