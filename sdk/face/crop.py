"""The emotion-model crop, cut from 468 FaceMesh landmarks by `CropSpec` (one implementation for
the SDK and for training).

Rule "facemesh-eye-aligned-square":
1. a = angle of the line from landmark 33 to landmark 263 (the outer eye corners);
2. rotate all landmarks by -a (eyes level);
3. centre = centre of the rotated landmarks' bounding box, moved down by `shift_y * side`
   (in the rotated, eye-level frame);
4. side = `scale` * max(width, height) of that box;
5. the square (centre, side) rotated back by a is resampled bilinearly to size x size.
All landmarks fall inside the crop ([0, 1]) whenever |shift_y| <= 0.5 - 0.5 / scale
(defaults scale 1.12, shift_y -0.05: measured on 1500 FERPlus images so that the crop reproduces
FER2013's framing: median landmark box 43.3 px of 48, its centre 2.4 px below the image centre).

Conventions: landmarks in frame pixels use MediaPipe's continuous convention (pixel i spans
[i, i+1), i.e. normalised * size). The returned 2x3 affine is ready for `cv2.warpAffine` (pixel
*index* coordinates, pixel centres at integers, on both sides), so
`crop = cv2.warpAffine(frame, A, (size, size), flags=INTER_LINEAR, borderMode=BORDER_REPLICATE)`,
and crop-normalised landmarks in [0, 1] are `(A @ [x - 0.5, y - 0.5, 1] + 0.5) / size`
(`crop_landmarks`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from lrdif.sdk.face._checks import check_landmarks_xy, check_rgb_frame
from lrdif.sdk.metadata import CropSpec

RULE = "facemesh-eye-aligned-square"
LEFT_EYE_OUTER = 33
RIGHT_EYE_OUTER = 263


def check_crop_spec(spec: CropSpec) -> CropSpec:
    if not isinstance(spec, CropSpec):
        raise TypeError(f"spec must be a lrdif.sdk.metadata.CropSpec, got {type(spec).__name__}")
    if spec.rule != RULE:
        raise ValueError(f"unsupported crop rule {spec.rule!r} (this SDK implements {RULE!r})")
    if not isinstance(spec.size, int) or spec.size < 8:
        raise ValueError(f"crop size must be an int >= 8, got {spec.size!r}")
    if not (math.isfinite(spec.scale) and spec.scale > 0):
        raise ValueError(f"crop scale must be positive, got {spec.scale!r}")
    if not math.isfinite(spec.shift_y):
        raise ValueError(f"crop shift_y must be finite, got {spec.shift_y!r}")
    return spec


def _affine_cont(p: np.ndarray, spec: CropSpec) -> np.ndarray:
    """Continuous-convention affine (frame -> crop, both spanning [0, size]) for one face."""
    d = p[RIGHT_EYE_OUTER] - p[LEFT_EYE_OUTER]
    a = math.atan2(d[1], d[0])
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, s], [-s, c]])  # rotation by -a
    q = p @ r.T
    lo, hi = q.min(0), q.max(0)
    side = spec.scale * float(max(hi[0] - lo[0], hi[1] - lo[1]))
    if not side > 0:
        raise ValueError("landmarks are degenerate (zero-size bounding box)")
    centre = (lo + hi) / 2 + np.array([0.0, spec.shift_y * side])
    k = spec.size / side
    lin = r * k
    t = (-centre + side / 2) * k
    return np.concatenate([lin, t[:, None]], axis=1)


def emotion_crop_affine(landmarks_xy, spec: CropSpec = CropSpec()) -> np.ndarray:
    """2x3 float64 affine, frame pixel indices -> crop pixel indices (cv2.warpAffine-ready).

    landmarks_xy: (468, 2) (or (468, 3), z ignored) FaceMesh landmarks in frame pixels
    (MediaPipe convention, see the module docstring)."""
    p = check_landmarks_xy(landmarks_xy, "landmarks_xy")
    check_crop_spec(spec)
    m = _affine_cont(p, spec)
    # index convention: x_idx = x_cont - 0.5 on both sides
    lin = m[:, :2]
    t = m[:, 2] + lin @ np.array([0.5, 0.5]) - 0.5
    return np.concatenate([lin, t[:, None]], axis=1)


def crop_landmarks(landmarks_xy, affine: np.ndarray, size: int) -> np.ndarray:
    """(468, 2) frame-pixel landmarks -> crop-normalised [0, 1] x, y through `affine`."""
    p = check_landmarks_xy(landmarks_xy, "landmarks_xy")
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (2, 3):
        raise ValueError(f"affine must have shape (2, 3), got {a.shape}")
    u = (p - 0.5) @ a[:, :2].T + a[:, 2]
    return ((u + 0.5) / size).astype(np.float32)


def warp_crop(rgb: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """Cut the crop: cv2.warpAffine bilinear, border replicate."""
    rgb = check_rgb_frame(rgb)
    return cv2.warpAffine(rgb, np.asarray(affine, dtype=np.float64), (int(size), int(size)),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
