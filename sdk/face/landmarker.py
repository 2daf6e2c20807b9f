"""FaceMesh 468-point landmarker (MediaPipe's face_landmark.tflite) on LiteRT.

Re-implements MediaPipe's face_landmark_front graph:
- ROI from a detection (DetectionsToRects with the eye keypoints 0 -> 1 defining the rotation,
  then RectTransformation scale 1.5, square_long), or from previous landmarks (bounding box of the
  landmarks, rotation from landmarks 33 -> 263, scale 1.5, square_long; MediaPipe's video mode);
- 192x192 RGB crop in [0, 1] (bilinear, border replicate), 468 x (x, y, z) points in crop pixels,
  projected back through the inverse rotation; face presence = sigmoid(flag logit).

Frame coordinates are MediaPipe's: pixel = normalised * frame size. z is in frame pixels (scaled
like x), relative to the face centre, smaller = closer to the camera.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lrdif.sdk.face._checks import check_landmarks_xy, check_rgb_frame

INPUT_SIZE = 192
NUM_LANDMARKS = 468
LEFT_EYE_OUTER = 33    # image-left outer eye corner (subject's right eye)
RIGHT_EYE_OUTER = 263  # image-right outer eye corner


def _normalize_radians(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


@dataclass(frozen=True)
class Roi:
    """A rotated square region in frame pixels: centre (cx, cy), side, rotation (radians, MediaPipe sign)."""
    cx: float
    cy: float
    size: float
    rotation: float

    def affine(self, out_size: int = INPUT_SIZE) -> np.ndarray:
        """2x3 affine frame px -> crop px (MediaPipe ImageToTensor's rotated-rect warp)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        k = out_size / self.size
        # crop u = R(-rot) (x - centre) * k + out/2
        return np.array([[c * k, s * k, -(c * self.cx + s * self.cy) * k + out_size / 2],
                         [-s * k, c * k, -(-s * self.cx + c * self.cy) * k + out_size / 2]],
                        dtype=np.float64)


def roi_from_detection(box_xywh, keypoints, frame_hw: tuple[int, int], scale: float = 1.5) -> Roi:
    """MediaPipe FaceDetectionFrontDetectionToRoi (eye keypoints 0, 1; 1.5x; square long side)."""
    x, y, w, h = (float(v) for v in box_xywh)
    kp = np.asarray(keypoints, dtype=np.float64)
    rot = _normalize_radians(0.0 - math.atan2(-(kp[1, 1] - kp[0, 1]), kp[1, 0] - kp[0, 0]))
    side = max(w, h) * scale
    return Roi(x + w / 2, y + h / 2, side, rot)


def roi_from_landmarks(landmarks, scale: float = 1.5) -> Roi:
    """MediaPipe FaceLandmarkLandmarksToRoi: bbox of the landmarks, rotation from 33 -> 263."""
    p = check_landmarks_xy(landmarks)
    x0, y0 = p.min(0)
    x1, y1 = p.max(0)
    a, b = p[LEFT_EYE_OUTER], p[RIGHT_EYE_OUTER]
    rot = _normalize_radians(0.0 - math.atan2(-(b[1] - a[1]), b[0] - a[0]))
    side = max(x1 - x0, y1 - y0) * scale
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, side, rot)


class FaceMeshLandmarker:
    """`landmarks(rgb, roi)` -> ((468, 3) frame px, presence score)."""

    def __init__(self, model_path: str | Path | None = None, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        if model_path is None:
            from lrdif.sdk.assets import face_model_paths
            model_path = face_model_paths(download=False)["landmarker"]
        self._it = Interpreter(model_path=str(model_path), num_threads=int(num_threads))
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"{model_path} is not the FaceMesh landmarker: input {inp['shape']}")
        self._in = inp["index"]
        outs = self._it.get_output_details()
        self._pts = next(d["index"] for d in outs if int(np.prod(d["shape"])) == NUM_LANDMARKS * 3)
        self._flag = next(d["index"] for d in outs if int(np.prod(d["shape"])) == 1)

    def crop(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray]:
        m = roi.affine(INPUT_SIZE)
        t = cv2.warpAffine(rgb, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        return t, m

    def raw(self, crop_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """Run the model on a 192x192x3 uint8 crop: ((468, 3) crop px, presence logit)."""
        x = crop_rgb.astype(np.float32) * (1.0 / 255.0)
        self._it.set_tensor(self._in, x[None])
        self._it.invoke()
        pts = self._it.get_tensor(self._pts).reshape(NUM_LANDMARKS, 3).astype(np.float64)
        return pts, float(self._it.get_tensor(self._flag).ravel()[0])

    def landmarks(self, rgb: np.ndarray, roi: Roi, check: bool = True) -> tuple[np.ndarray, float]:
        if check:
            rgb = check_rgb_frame(rgb)
        if not (roi.size > 0 and math.isfinite(roi.size)):
            raise ValueError(f"ROI size must be positive and finite, got {roi.size}")
        crop, _ = self.crop(rgb, roi)
        pts, logit = self.raw(crop)
        # LandmarkProjection: rotate (crop-normalised - 0.5) by the ROI rotation, scale, add centre
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        u = pts[:, 0] / INPUT_SIZE - 0.5
        v = pts[:, 1] / INPUT_SIZE - 0.5
        out = np.empty((NUM_LANDMARKS, 3), dtype=np.float64)
        out[:, 0] = (c * u - s * v) * roi.size + roi.cx
        out[:, 1] = (s * u + c * v) * roi.size + roi.cy
        out[:, 2] = pts[:, 2] / INPUT_SIZE * roi.size
        presence = 1.0 / (1.0 + math.exp(-max(min(logit, 100.0), -100.0)))
        return out.astype(np.float32), presence
