"""BlazeFace short-range face detector (MediaPipe's face_detection_short_range.tflite) on LiteRT.

Re-implements MediaPipe's graph (modules/face_detection/face_detection_short_range.pbtxt):
letterboxed 128x128 RGB input in [-1, 1] (zero padding), SSD anchors (strides 8, 16, 16, 16;
896 anchors), box + 6 keypoint decoding, sigmoid score (logits clipped to +-100), weighted
non-maximum suppression (IoU > 0.3 blended by score), letterbox removal.

Frame coordinates are MediaPipe's: pixel = normalised * frame size, i.e. pixel i spans [i, i+1).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lrdif.sdk.face._checks import check_rgb_frame

INPUT_SIZE = 128
NUM_KEYPOINTS = 6
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear_tragion", "left_ear_tragion")
# (subject's right eye = keypoint 0 = on the image's left in an unmirrored photo)


def ssd_anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = (8, 16, 16, 16),
                anchor_offset: float = 0.5) -> np.ndarray:
    """MediaPipe SsdAnchorsCalculator for BlazeFace short range (fixed_anchor_size, aspect 1.0,
    interpolated scale): 2 anchors per cell per layer, consecutive layers of equal stride merged.
    Returns (896, 2) anchor centres (x, y) in [0, 1]; anchor width = height = 1."""
    out = []
    i = 0
    while i < len(strides):
        j = i
        n = 0
        while j < len(strides) and strides[j] == strides[i]:
            n += 2
            j += 1
        fm = int(np.ceil(input_size / strides[i]))
        ys, xs = np.meshgrid((np.arange(fm) + anchor_offset) / fm, (np.arange(fm) + anchor_offset) / fm,
                             indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, n, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


ANCHORS = ssd_anchors()


@dataclass(frozen=True)
class Detection:
    """One face detection in frame pixels: box (x, y, w, h), score, keypoints (6, 2)."""
    box: np.ndarray         # (4,) float32 x, y, w, h
    score: float
    keypoints: np.ndarray   # (6, 2) float32 x, y


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (xmin, ymin, xmax, ymax) box with many."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = a + b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = 0.3) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-max suppression: take the best remaining detection, blend every
    remaining detection with IoU > threshold (itself included) weighted by score; the blended
    detection keeps the best score. boxes (N, 4) xmin, ymin, xmax, ymax."""
    order = np.argsort(-scores, kind="stable")
    out = []
    while order.size:
        top = order[0]
        ious = _iou(boxes[top], boxes[order])
        cand = order[ious > iou_threshold]
        rest = order[~(ious > iou_threshold)]
        if cand.size == 0:  # cannot happen (IoU with itself is 1) unless the box is degenerate
            cand = order[:1]
            rest = order[1:]
        w = scores[cand].astype(np.float64)
        tw = w.sum()
        box = (boxes[cand] * w[:, None]).sum(0) / tw
        kps = (keypoints[cand] * w[:, None, None]).sum(0) / tw
        out.append((box, kps, float(scores[top])))
        if rest.size == order.size:
            break
        order = rest
    return out


class BlazeFaceDetector:
    """Face detector. `detect(rgb)` -> list of Detection (best first), frame pixel coordinates."""

    def __init__(self, model_path: str | Path | None = None, num_threads: int = 1,
                 min_score: float = 0.5, iou_threshold: float = 0.3):
        from ai_edge_litert.interpreter import Interpreter

        if model_path is None:
            from lrdif.sdk.assets import face_model_paths
            model_path = face_model_paths(download=False)["detector"]
        if not (0.0 <= min_score <= 1.0):
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        self.min_score = float(min_score)
        self.iou_threshold = float(iou_threshold)
        self._it = Interpreter(model_path=str(model_path), num_threads=int(num_threads))
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"{model_path} is not BlazeFace short range: input {inp['shape']}")
        self._in = inp["index"]
        outs = {d["name"]: d["index"] for d in self._it.get_output_details()}
        self._reg = outs["regressors"]
        self._cls = outs["classificators"]

    @staticmethod
    def letterbox_affine(h: int, w: int, size: int = INPUT_SIZE) -> tuple[np.ndarray, float, float, float]:
        """Affine (frame -> tensor px) of MediaPipe's keep_aspect_ratio ImageToTensor for the whole
        frame, plus (x0, y0, side) of the padded square in frame pixels."""
        side = float(max(h, w))
        x0 = w / 2.0 - side / 2.0
        y0 = h / 2.0 - side / 2.0
        s = size / side
        m = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], dtype=np.float64)
        return m, x0, y0, side

    def preprocess(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float]]:
        h, w = rgb.shape[:2]
        m, x0, y0, side = self.letterbox_affine(h, w)
        t = cv2.warpAffine(rgb, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        x = t.astype(np.float32) * (2.0 / 255.0) - 1.0
        return x[None], (x0, y0, side)

    def raw(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._it.set_tensor(self._in, np.ascontiguousarray(tensor, dtype=np.float32))
        self._it.invoke()
        return self._it.get_tensor(self._reg)[0], self._it.get_tensor(self._cls)[0, :, 0]

    def detect(self, rgb: np.ndarray, max_faces: int | None = None,
               min_score: float | None = None) -> list[Detection]:
        rgb = check_rgb_frame(rgb)
        thr = self.min_score if min_score is None else float(min_score)
        tensor, (x0, y0, side) = self.preprocess(rgb)
        reg, logits = self.raw(tensor)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        keep = np.nonzero(scores >= thr)[0]
        if keep.size == 0:
            return []
        r = reg[keep].astype(np.float64) / INPUT_SIZE
        a = ANCHORS[keep].astype(np.float64)
        cx = r[:, 0] + a[:, 0]
        cy = r[:, 1] + a[:, 1]
        bw = r[:, 2]
        bh = r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = r[:, 4:16].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
        dets = weighted_nms(boxes, kps, scores[keep].astype(np.float64), self.iou_threshold)
        out = []
        for box, kp, sc in dets:
            # tensor-normalised -> frame pixels (letterbox removal)
            bx = box * side + np.array([x0, y0, x0, y0])
            kpx = kp * side + np.array([x0, y0])
            out.append(Detection(
                box=np.array([bx[0], bx[1], bx[2] - bx[0], bx[3] - bx[1]], dtype=np.float32),
                score=float(sc), keypoints=kpx.astype(np.float32)))
        if max_faces is not None:
            out = out[: int(max_faces)]
        return out
