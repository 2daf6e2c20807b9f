"""Input validation shared by the face front-end (clear errors on bad frames)."""
from __future__ import annotations

import numpy as np


def check_rgb_frame(rgb: object, name: str = "rgb") -> np.ndarray:
    """Return `rgb` as a C-contiguous HxWx3 uint8 array or raise TypeError/ValueError naming the problem."""
    if rgb is None:
        raise TypeError(f"{name} is None; expected an HxWx3 uint8 RGB numpy array")
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray (HxWx3 uint8 RGB), got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8 (0..255 RGB), got {rgb.dtype}; "
                        f"convert with np.clip(x, 0, 255).astype(np.uint8) (float images in [0, 1]: x * 255)")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3) RGB, got {rgb.shape}"
                         + (" (grayscale: use np.repeat(x[..., None], 3, -1))" if rgb.ndim == 2 else ""))
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {rgb.shape}")
    return np.ascontiguousarray(rgb)


def check_landmarks_xy(landmarks: object, name: str = "landmarks") -> np.ndarray:
    """Return (468, 2) float64 landmarks (extra z column dropped) or raise."""
    if landmarks is None:
        raise TypeError(f"{name} is None; expected a (468, 2) or (468, 3) array of frame pixels")
    a = np.asarray(landmarks)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[0] != 468 or a.shape[1] not in (2, 3):
        raise ValueError(f"{name} must have shape (468, 2) or (468, 3), got {a.shape}")
    a = a[:, :2].astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a
