"""Thin per-runtime runners for one exported emotion model (used inside child processes).

They run the runtime directly (no SDK pre-processing) so the latency table measures the model in
its runtime. Inputs are bound by shape (the rank-4 tensor is the image, the rank-3 one the
landmarks), so they do not depend on tensor names; int8 input/output tensors are (de)quantised
with their own scale and zero point. Only the runtime under test is imported.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

RUNTIME_BY_SUFFIX = {".onnx": "onnxruntime", ".tflite": "litert", ".pte": "executorch"}


def runtime_of(path: str | Path) -> str | None:
    return RUNTIME_BY_SUFFIX.get(Path(path).suffix.lower())


def _layout(shape) -> str:
    shape = list(shape)
    if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):
        return "NHWC"
    return "NCHW"


class Runner:
    """`predict(images NCHW float32 normalised, landmarks (B,468,2) float32) -> (B, K) scores`."""
    runtime = "?"
    fixed_batch: int = 0          # 0 = any batch size
    image_layout = "NCHW"
    input_size: int = 64

    def _set_image_shape(self, shape) -> None:
        self.image_layout = _layout(shape)
        side = shape[2] if self.image_layout == "NCHW" else shape[1]
        self.input_size = int(side) if isinstance(side, (int, np.integer)) else 64

    def predict(self, images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_batched(self, images: np.ndarray, landmarks: np.ndarray, batch: int = 64) -> np.ndarray:
        bs = self.fixed_batch or batch
        outs = []
        for i in range(0, len(images), bs):
            im, lm = images[i:i + bs], landmarks[i:i + bs]
            n = len(im)
            if self.fixed_batch and n < bs:      # pad the tail to the fixed batch
                im = np.concatenate([im, np.repeat(im[-1:], bs - n, 0)])
                lm = np.concatenate([lm, np.repeat(lm[-1:], bs - n, 0)])
            outs.append(self.predict(im, lm)[:n])
        return np.concatenate(outs)


class OrtRunner(Runner):
    runtime = "onnxruntime"

    def __init__(self, path: str, threads: int):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        ins = self.sess.get_inputs()
        self.image_in = next(i for i in ins if len(i.shape) == 4)
        self.lm_in = next((i for i in ins if len(i.shape) == 3), None)
        b = self.image_in.shape[0]
        self.fixed_batch = b if isinstance(b, int) else 0
        self._set_image_shape(self.image_in.shape)
        self.out_name = self.sess.get_outputs()[0].name

    def predict(self, images, landmarks):
        if self.image_layout == "NHWC":
            images = images.transpose(0, 2, 3, 1)
        feeds = {self.image_in.name: np.ascontiguousarray(images, np.float32)}
        if self.lm_in is not None:
            feeds[self.lm_in.name] = np.ascontiguousarray(landmarks, np.float32)
        return self.sess.run([self.out_name], feeds)[0]


class LiteRTRunner(Runner):
    runtime = "litert"

    def __init__(self, path: str, threads: int):
        from ai_edge_litert.interpreter import Interpreter
        self.it = Interpreter(model_path=str(path), num_threads=threads)
        self.it.allocate_tensors()
        ins = self.it.get_input_details()
        self.image_in = next(d for d in ins if len(d["shape"]) == 4)
        self.lm_in = next((d for d in ins if len(d["shape"]) == 3), None)
        self.out = self.it.get_output_details()[0]
        self.fixed_batch = int(self.image_in["shape"][0])
        self._set_image_shape(list(self.image_in["shape"]))
        self.int8_io = self.image_in["dtype"] in (np.int8, np.uint8)

    @staticmethod
    def _q(x: np.ndarray, d: dict) -> np.ndarray:
        if d["dtype"] in (np.int8, np.uint8):
            scale, zp = d["quantization"]
            info = np.iinfo(d["dtype"])
            return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(d["dtype"])
        return x.astype(d["dtype"], copy=False)

    def predict(self, images, landmarks):
        if self.image_layout == "NHWC":
            images = images.transpose(0, 2, 3, 1)
        if len(images) != self.fixed_batch:
            self.it.resize_tensor_input(self.image_in["index"], [len(images), *self.image_in["shape"][1:]])
            if self.lm_in is not None:
                self.it.resize_tensor_input(self.lm_in["index"], [len(images), *self.lm_in["shape"][1:]])
            self.it.allocate_tensors()
            self.fixed_batch = len(images)
        self.it.set_tensor(self.image_in["index"], self._q(np.ascontiguousarray(images, np.float32), self.image_in))
        if self.lm_in is not None:
            self.it.set_tensor(self.lm_in["index"], self._q(np.ascontiguousarray(landmarks, np.float32), self.lm_in))
        self.it.invoke()
        y = self.it.get_tensor(self.out["index"])
        if self.out["dtype"] in (np.int8, np.uint8):
            scale, zp = self.out["quantization"]
            y = (y.astype(np.float32) - zp) * scale
        return y


class ExecuTorchRunner(Runner):
    runtime = "executorch"

    def __init__(self, path: str, threads: int):
        import torch  # the ExecuTorch Python runtime links torch's libraries
        torch.set_num_threads(threads)
        try:
            from executorch.extension.pybindings import portable_lib
            portable_lib._unsafe_reset_threadpool(threads)
        except Exception:  # older/newer runtimes: rely on the default pool
            pass
        from executorch.runtime import Runtime
        self.torch = torch
        self.method = Runtime.get().load_program(str(path)).load_method("forward")
        meta = self.method.metadata
        shapes = [tuple(meta.input_tensor_meta(i).sizes()) for i in range(meta.num_inputs())]
        self.order = ["image" if len(s) == 4 else "landmarks" for s in shapes]
        img_shape = shapes[self.order.index("image")]
        self.fixed_batch = int(img_shape[0])
        self._set_image_shape(img_shape)

    def predict(self, images, landmarks):
        if self.image_layout == "NHWC":
            images = images.transpose(0, 2, 3, 1)
        t = self.torch
        args = {"image": t.from_numpy(np.ascontiguousarray(images, np.float32)),
                "landmarks": t.from_numpy(np.ascontiguousarray(landmarks, np.float32))}
        out = self.method.execute([args[k] for k in self.order])
        return out[0].numpy()


class PeerFerRunner(LiteRTRunner):
    """The `fer` package's FER2013 TFLite: 64x64x1 gray in [-1, 1], 7 FER2013-order outputs."""
    runtime = "litert"

    def predict_gray(self, gray64: np.ndarray) -> np.ndarray:   # (B, 64, 64) uint8
        x = (gray64.astype(np.float32) / 255.0 - 0.5) * 2.0
        x = x[..., None]
        outs = []
        for i in range(len(x)):
            self.it.set_tensor(self.image_in["index"], self._q(x[i:i + 1], self.image_in))
            self.it.invoke()
            y = self.it.get_tensor(self.out["index"])
            if self.out["dtype"] in (np.int8, np.uint8):
                scale, zp = self.out["quantization"]
                y = (y.astype(np.float32) - zp) * scale
            outs.append(y)
        return np.concatenate(outs)


def open_runner(path: str | Path, threads: int) -> Runner:
    rt = runtime_of(path)
    if rt == "onnxruntime":
        return OrtRunner(str(path), threads)
    if rt == "litert":
        return LiteRTRunner(str(path), threads)
    if rt == "executorch":
        return ExecuTorchRunner(str(path), threads)
    raise ValueError(f"no runner for {path}")


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        env[k] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


class TorchRunner(Runner):
    """The checkpoint's torch inference module (the reference beside the artifacts)."""
    runtime = "torch"

    def __init__(self, checkpoint: str, threads: int, steps: int | None = None):
        import torch
        from benchmarks.model_api import load_inference
        torch.set_num_threads(threads)
        self.torch = torch
        self.mod, info = load_inference(checkpoint, steps)
        self.input_size = info["input_size"]

    def predict(self, images, landmarks):
        with self.torch.inference_mode():
            return self.mod(self.torch.from_numpy(np.ascontiguousarray(images, np.float32)),
                            self.torch.from_numpy(np.ascontiguousarray(landmarks, np.float32)))[1].numpy()


def open_any(artifact: str, threads: int, steps: int | None = None) -> Runner:
    """An artifact path, or "torch:<checkpoint>" for the torch reference."""
    if str(artifact).startswith("torch:"):
        return TorchRunner(str(artifact)[len("torch:"):], threads, steps)
    return open_runner(artifact, threads)
