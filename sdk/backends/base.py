"""Common part of the emotion-model runners: loading errors, IO validation against the embedded
metadata, preprocessing (normalisation, layout, colour order) and fixed-batch handling."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from lrdif.sdk.metadata import MetadataError, ModelMetadata


class ModelLoadError(RuntimeError):
    """The emotion-model artifact cannot be used: missing, corrupt, tampered, not an lrdif model,
    or its embedded metadata does not match the graph. The message names the file."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """The emotion-model file does not exist."""


def describe(model: object) -> str:
    """How error messages name a model: its path, or '<N bytes of model data>'."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return f"<{len(model)} bytes of model data>"
    return str(model)


def check_model_source(model: object) -> "str | bytes":
    """Return a str path (existing) or bytes, else raise ModelLoadError / ModelNotFoundError."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        if len(model) == 0:
            raise ModelLoadError("model_bytes is empty")
        return bytes(model)
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a path or bytes, got {type(model).__name__}")
    p = Path(model)
    if not p.exists():
        raise ModelNotFoundError(f"emotion model not found: {p}")
    return str(p)


def load_artifact_metadata(model: "str | bytes", source: str) -> ModelMetadata:
    """The artifact's embedded metadata (lrdif.sdk.artifact_metadata.read_metadata) or ModelLoadError."""
    from lrdif.sdk.artifact_metadata import read_metadata

    try:
        return read_metadata(model)
    except (MetadataError, OSError) as e:
        msg = str(e).replace("<bytes>", source)
        raise ModelLoadError(msg if source in msg else f"{source}: {msg}") from None


def _expected_shapes(meta: ModelMetadata) -> dict[str, tuple]:
    b = meta.batch or None
    s = meta.input_size
    img = (b, 3, s, s) if meta.input_layout == "NCHW" else (b, s, s, 3)
    image, landmarks = meta.input_names
    probs, logits = meta.output_names
    return {image: img, landmarks: (b, meta.num_landmarks, 2),
            probs: (b, meta.num_classes), logits: (b, meta.num_classes)}


def validate_io(meta: ModelMetadata, source: str, inputs: Sequence[tuple[str, tuple]],
                outputs: Sequence[tuple[str, tuple]],
                positional: "bool | tuple[bool, bool]" = False) -> dict[str, str]:
    """Check the artifact's inputs/outputs (name, shape with None for dynamic dims) against the
    metadata. Returns {metadata name -> artifact name}. `positional` (for inputs and outputs, or
    a pair): the artifact has no meaningful names (ExecuTorch; LiteRT 'args_0', 'output_0'), so
    match in metadata order instead. Raises ModelLoadError naming the file and the mismatch."""
    if isinstance(positional, bool):
        positional = (positional, positional)
    if len(meta.input_names) != 2 or len(meta.output_names) != 2:
        raise ModelLoadError(f"{source}: metadata must name 2 inputs (image, landmarks) and 2 outputs "
                             f"(probabilities, logits), got {meta.input_names} / {meta.output_names}")
    expected = _expected_shapes(meta)
    mapping: dict[str, str] = {}
    for kind, want_names, have, by_order in (("input", meta.input_names, list(inputs), positional[0]),
                                             ("output", meta.output_names, list(outputs), positional[1])):
        have_names = [n for n, _ in have]
        if by_order:
            if kind == "input" and len(have) != len(want_names):
                raise ModelLoadError(f"{source}: the model has {len(have)} inputs, metadata expects "
                                     f"{len(want_names)} {list(want_names)}")
            if kind == "output" and len(have) < len(want_names):
                raise ModelLoadError(f"{source}: the model has {len(have)} outputs, metadata expects "
                                     f"{list(want_names)}")
            pairs = list(zip(want_names, have))
        else:
            missing = [n for n in want_names if n not in have_names]
            if missing or (kind == "input" and len(have) != len(want_names)):
                raise ModelLoadError(f"{source}: model {kind}s are {have_names}, metadata expects "
                                     f"{list(want_names)}")
            shapes = dict(have)
            pairs = [(n, (n, shapes[n])) for n in want_names]
        for want, (name, shape) in pairs:
            exp = expected[want]
            if not _shape_ok(shape, exp):
                raise ModelLoadError(
                    f"{source}: {kind} '{name}' has shape {_fmt(shape)} but the metadata implies "
                    f"{_fmt(exp)} (input_size={meta.input_size}, layout={meta.input_layout}, "
                    f"classes={meta.num_classes}, batch={meta.batch or 'dynamic'})")
            mapping[want] = name
    return mapping


def _shape_ok(shape: tuple, exp: tuple) -> bool:
    if shape is None:
        return True
    if len(shape) != len(exp):
        return False
    for i, (h, e) in enumerate(zip(shape, exp)):
        if h is None:
            continue
        if e is None:               # metadata says dynamic batch: the artifact must be dynamic too
            if i == 0:
                return False
            continue
        if h != e:
            return False
    return True


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def dim(d: object) -> "int | None":
    """Normalise a runtime's dimension (int, -1, 0?, symbolic str, None) to int or None."""
    if isinstance(d, (int, np.integer)) and int(d) > 0:
        return int(d)
    return None


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The SDK's (and the mobile cores') probabilities: softmax(logits / temperature) per row,
    computed in float64 and returned as float32. `temperature` is the calibration temperature
    from the artifact's metadata (1.0 = uncalibrated)."""
    z = np.asarray(logits, np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def preprocess(crops: np.ndarray, meta: ModelMetadata) -> np.ndarray:
    """THE emotion-model input contract: (B, S, S, 3) uint8 RGB crops -> float32
    `(pixel/255 - mean)/std` in the metadata's colour order and layout (contiguous). Every path that
    feeds an artifact or the torch reference from pixels (SDK, export verification, benchmarks)
    calls this; training normalises its float crops with the same metadata
    (`lrdif.training.inference.normaliser`)."""
    crops = np.asarray(crops)
    s = meta.input_size
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
        raise ValueError(f"crops must be (B, {s}, {s}, 3) uint8, got {crops.shape} {crops.dtype}")
    if meta.colour_order == "BGR":
        crops = crops[..., ::-1]
    std = np.asarray(meta.std, np.float32)
    x = crops.astype(np.float32) * (1.0 / (255.0 * std)) + (-np.asarray(meta.mean, np.float32) / std)
    if meta.input_layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


class Backend:
    """One emotion-model runner. Subclasses load the artifact, set `self.metadata` and implement
    `_run_batch(image, landmarks) -> (probabilities, logits)` for exactly one call's batch."""

    name = "base"
    target = ""

    def __init__(self, model: "str | os.PathLike | bytes", num_threads: "int | None" = None):
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise ValueError(f"num_threads must be a positive int or None, got {num_threads!r}")
        self.source = describe(model)
        self.num_threads = num_threads
        self._lock = threading.Lock()
        self._closed = False
        self.metadata: ModelMetadata = self._load(check_model_source(model))
        t = self.metadata.target
        if t and t != self.target:
            raise ModelLoadError(f"{self.source}: metadata says this is a '{t}' artifact but it was "
                                 f"loaded as {self.target} by the {self.name} backend")

    def _load(self, model: "str | bytes") -> ModelMetadata:
        """Load the artifact (a path that exists, or bytes), validate its IO against the embedded
        metadata and return the metadata. Raise ModelLoadError naming `self.source` on failure."""
        raise NotImplementedError

    @property
    def labels(self) -> tuple[str, ...]:
        return self.metadata.labels

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 RGB crops -> float32 model input (`preprocess`, from the metadata)."""
        return preprocess(crops, self.metadata)

    def run(self, crops: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops (B, S, S, 3) uint8 RGB + crop-normalised landmarks (B, 468, 2) -> probabilities
        (B, K) (each row sums to 1) and logits (B, K). One runtime call for the whole batch unless
        the artifact has a fixed batch size (then chunks, the last one padded). Thread-safe."""
        image = self.preprocess(crops)
        lm = np.ascontiguousarray(landmarks, dtype=np.float32)
        n = image.shape[0]
        if lm.shape != (n, self.metadata.num_landmarks, 2):
            raise ValueError(f"landmarks must be ({n}, {self.metadata.num_landmarks}, 2), got {lm.shape}")
        k = self.metadata.num_classes
        if n == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.float32)
        b = self.metadata.batch
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} backend for {self.source} is closed")
            if not b or b == n:
                probs, logits = self._run_batch(image, lm)
            else:
                ps, ls = [], []
                for i in range(0, n, b):
                    im, l = image[i:i + b], lm[i:i + b]
                    m = im.shape[0]
                    if m < b:                      # pad the last chunk by repeating its last row
                        im = np.concatenate([im, np.repeat(im[-1:], b - m, 0)])
                        l = np.concatenate([l, np.repeat(l[-1:], b - m, 0)])
                    p, g = self._run_batch(im, l)
                    ps.append(np.asarray(p)[:m])
                    ls.append(np.asarray(g)[:m])
                probs, logits = np.concatenate(ps), np.concatenate(ls)
        logits = np.asarray(logits, np.float32).reshape(n, k)
        if not np.all(np.isfinite(logits)):
            raise RuntimeError(f"{self.source}: the model produced NaN/inf outputs")
        return softmax(logits, self.metadata.temperature), logits

    def _run_batch(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._release()

    def _release(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, model={self.metadata.model_name} {self.metadata.model_version})"
