"""Frame validation and conversion for the SDK's public entry points.

Every frame handed to `EmotionRecognizer` goes through :func:`to_rgb_uint8` once; it either returns
a C-contiguous (H, W, 3) uint8 RGB array or raises a TypeError / ValueError that names the problem
and says how to fix it. It never guesses a scale for float or 16-bit data.
"""
from __future__ import annotations

import numpy as np

__all__ = ["to_rgb_uint8"]

_SHAPES = "(H, W, 3) RGB/BGR, (H, W, 4) RGBA/BGRA, (H, W, 1) or (H, W) grayscale"


def to_rgb_uint8(frame: object, bgr: bool = False, name: str = "frame") -> np.ndarray:
    """Validate `frame` and return it as a C-contiguous (H, W, 3) uint8 RGB array.

    Accepts uint8 numpy arrays (or objects exposing ``__array__``, e.g. PIL images) shaped
    (H, W, 3) colour (RGB, or BGR when `bgr` is true, as OpenCV reads images), (H, W, 4) with alpha
    (dropped), and (H, W) or (H, W, 1) grayscale (replicated to 3 channels). Non-contiguous views
    (slices, transposes) are copied. The input is never modified.

    Raises TypeError for None, non-arrays and any dtype other than uint8 (saying how to convert),
    ValueError for a wrong number of dimensions/channels, a zero-size frame or NaN/inf values.
    """
    if frame is None:
        raise TypeError(f"{name} is None; expected a numpy uint8 array shaped {_SHAPES}")
    if not isinstance(frame, np.ndarray):
        if not hasattr(frame, "__array__"):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(frame).__name__}")
        frame = np.asarray(frame)
    a: np.ndarray = frame
    if a.dtype != np.uint8:
        _raise_dtype(a, name)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"{name} has shape {a.shape}; expected {_SHAPES}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); expected a non-empty image")
    if a.ndim == 2:
        return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    if bgr:
        return np.ascontiguousarray(a[:, :, 2::-1])     # BGR(A) -> RGB, alpha dropped
    if a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    return np.ascontiguousarray(a)


def _raise_dtype(a: np.ndarray, name: str) -> None:
    kind = a.dtype.kind
    if kind == "f" or kind == "c":
        if a.size and not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has dtype {a.dtype} and contains NaN or inf values; expected "
                             f"a uint8 image (0..255)")
        raise TypeError(f"{name} has dtype {a.dtype}; expected uint8 (0..255). Convert a float image "
                        f"in [0, 1] with (np.clip(x, 0, 1) * 255).round().astype(np.uint8), or one "
                        f"in [0, 255] with np.clip(x, 0, 255).round().astype(np.uint8)")
    if kind in "ui":
        bits = a.dtype.itemsize * 8
        hint = (f"scale a {bits}-bit image with (x >> {bits - 8}).astype(np.uint8)"
                if kind == "u" and bits > 8 else "use np.clip(x, 0, 255).astype(np.uint8)")
        raise TypeError(f"{name} has dtype {a.dtype}; expected uint8 (0..255); {hint}")
    raise TypeError(f"{name} has dtype {a.dtype}; expected a uint8 image (0..255)")
