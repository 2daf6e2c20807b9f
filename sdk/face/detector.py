"""BlazeFace face detectors (MediaPipe's face_detection_short_range.tflite and
face_detection_full_range_sparse.tflite) on LiteRT.

Re-implements MediaPipe's graphs (modules/face_detection/face_detection_short_range.pbtxt and
face_detection_full_range.pbtxt, both built on face_detection.pbtxt), parametrised by
`DetectorOptions` (`SHORT_RANGE`, `FULL_RANGE`): letterboxed square RGB input in [-1, 1] (zero
padding; 128x128 short range, 192x192 full range), SSD anchors (short: strides 8, 16, 16, 16 with
2 anchors per cell = 896; full: stride 4 with 1 anchor per cell = 2304), box + 6 keypoint decoding
(coordinates scaled by the input size), sigmoid score (logits clipped to +-100), weighted
non-maximum suppression (IoU > 0.3 blended by score), letterbox removal.

Frame coordinates are MediaPipe's: pixel = normalised * frame size, i.e. pixel i spans [i, i+1).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lrdif.sdk.face._checks import check_rgb_frame

INPUT_SIZE = 128          # short range (kept for callers of the short-range constants)
NUM_KEYPOINTS = 6
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear_tragion", "left_ear_tragion")
# (subject's right eye = keypoint 0 = on the image's left in an unmirrored photo)


@dataclass(frozen=True)
class DetectorOptions:
    """One BlazeFace variant as MediaPipe's graph configures it (SsdAnchorsCalculator +
    TensorsToDetectionsCalculator options).

    name: "short" | "full"; asset: its key in `lrdif.sdk.assets.FACE_MODELS`;
    input_size: square input (also MediaPipe's x/y/w/h_scale); strides: one per SSD layer (equal
    consecutive strides share a feature map); interpolated_anchor: the extra interpolated-scale
    anchor per cell (interpolated_scale_aspect_ratio 1.0; 0.0 = none); min_score: the graph's
    default min_score_thresh (the SDK passes its own threshold, as mp.solutions does)."""
    name: str
    asset: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_anchor: bool
    min_score: float
    anchor_offset: float = 0.5
    iou_threshold: float = 0.3
    score_clip: float = 100.0

    @property
    def num_anchors(self) -> int:
        return int(ssd_anchors(self.input_size, self.strides, self.anchor_offset,
                               self.interpolated_anchor).shape[0])


SHORT_RANGE = DetectorOptions("short", "detector", 128, (8, 16, 16, 16), True, min_score=0.5)
FULL_RANGE = DetectorOptions("full", "detector_full", 192, (4,), False, min_score=0.6)
DETECTORS = {o.name: o for o in (SHORT_RANGE, FULL_RANGE)}


def ssd_anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = (8, 16, 16, 16),
                anchor_offset: float = 0.5, interpolated_anchor: bool = True) -> np.ndarray:
    """MediaPipe SsdAnchorsCalculator with fixed_anchor_size and aspect ratio 1.0: one anchor per
    cell per layer (two with `interpolated_anchor`), consecutive layers of equal stride merged.
    Returns (N, 2) anchor centres (x, y) in [0, 1]; anchor width = height = 1
    (short range: 896 anchors; full range, stride 4 at 192: 2304)."""
    per_layer = 2 if interpolated_anchor else 1
    out = []
    i = 0
    while i < len(strides):
        j = i
        n = 0
        while j < len(strides) and strides[j] == strides[i]:
            n += per_layer
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
    """One face detection in frame pixels: box (x, y, w, h), score, keypoints (6, 2), and the
    detector that made it ("short" | "full")."""
    box: np.ndarray         # (4,) float32 x, y, w, h
    score: float
    keypoints: np.ndarray   # (6, 2) float32 x, y
    source: str = "short"


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


def _check_options(options: object) -> DetectorOptions:
    if isinstance(options, str):
        if options not in DETECTORS:
            raise ValueError(f"face detector must be one of {sorted(DETECTORS)}, got {options!r}")
        return DETECTORS[options]
    if not isinstance(options, DetectorOptions):
        raise TypeError(f"options must be a DetectorOptions or one of {sorted(DETECTORS)}, "
                        f"got {type(options).__name__}")
    return options


class BlazeFaceDetector:
    """Face detector. `detect(rgb)` -> list of Detection (best first), frame pixel coordinates.

    options: `SHORT_RANGE` (default; faces within ~2 m, selfie distance) or `FULL_RANGE` (faces
    within ~5 m), or their names "short" / "full". min_score: None = the graph's own threshold
    (0.5 short range, 0.6 full range, as mediapipe 0.10.21 applies them)."""

    def __init__(self, model_path: str | Path | None = None, num_threads: int = 1,
                 min_score: float | None = None, iou_threshold: float | None = None,
                 options: DetectorOptions | str = SHORT_RANGE):
        from ai_edge_litert.interpreter import Interpreter

        self.options = opts = _check_options(options)
        if model_path is None:
            from lrdif.sdk.assets import face_model_paths
            model_path = face_model_paths(download=False, keys=(opts.asset,))[opts.asset]
        if min_score is None:
            min_score = opts.min_score                    # the MediaPipe graph's threshold
        if not (0.0 <= min_score <= 1.0):
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        self.min_score = float(min_score)
        self.iou_threshold = float(opts.iou_threshold if iou_threshold is None else iou_threshold)
        self.anchors = ssd_anchors(opts.input_size, opts.strides, opts.anchor_offset, opts.interpolated_anchor)
        self._it = Interpreter(model_path=str(model_path), num_threads=int(num_threads))
        self._it.allocate_tensors()
        inp = self._it.get_input_details()[0]
        size = opts.input_size
        if tuple(inp["shape"]) != (1, size, size, 3):
            raise ValueError(f"{model_path} is not BlazeFace {opts.name} range: input {inp['shape']}, "
                             f"expected (1, {size}, {size}, 3)")
        self._in = inp["index"]
        outs = self._it.get_output_details()
        n = self.anchors.shape[0]
        reg = [d for d in outs if tuple(d["shape"]) == (1, n, 4 + 2 * NUM_KEYPOINTS)]
        cls = [d for d in outs if tuple(d["shape"]) == (1, n, 1)]
        if len(reg) != 1 or len(cls) != 1:
            raise ValueError(f"{model_path} is not BlazeFace {opts.name} range: outputs "
                             f"{[tuple(d['shape']) for d in outs]}, expected (1, {n}, 16) and (1, {n}, 1)")
        self._reg = reg[0]["index"]
        self._cls = cls[0]["index"]

    @property
    def input_size(self) -> int:
        return self.options.input_size

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
        size = self.options.input_size
        m, x0, y0, side = self.letterbox_affine(h, w, size)
        t = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        x = t.astype(np.float32) * (2.0 / 255.0) - 1.0
        return x[None], (x0, y0, side)

    def raw(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._it.set_tensor(self._in, np.ascontiguousarray(tensor, dtype=np.float32))
        self._it.invoke()
        return self._it.get_tensor(self._reg)[0], self._it.get_tensor(self._cls)[0, :, 0]

    def decode(self, reg: np.ndarray, logits: np.ndarray, min_score: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Raw outputs -> [(box xmin, ymin, xmax, ymax, keypoints (6, 2), score)] in tensor-normalised
        coordinates after weighted NMS (MediaPipe's TensorsToDetections + NonMaxSuppression)."""
        clip = self.options.score_clip
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -clip, clip)))
        keep = np.nonzero(scores >= min_score)[0]
        if keep.size == 0:
            return []
        r = reg[keep].astype(np.float64) / self.options.input_size
        a = self.anchors[keep].astype(np.float64)
        cx = r[:, 0] + a[:, 0]
        cy = r[:, 1] + a[:, 1]
        bw = r[:, 2]
        bh = r[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = r[:, 4:16].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
        return weighted_nms(boxes, kps, scores[keep].astype(np.float64), self.iou_threshold)

    def detect(self, rgb: np.ndarray, max_faces: int | None = None,
               min_score: float | None = None) -> list[Detection]:
        rgb = check_rgb_frame(rgb)
        thr = self.min_score if min_score is None else float(min_score)
        tensor, (x0, y0, side) = self.preprocess(rgb)
        reg, logits = self.raw(tensor)
        out = []
        for box, kp, sc in self.decode(reg, logits, thr):
            # tensor-normalised -> frame pixels (letterbox removal)
            bx = box * side + np.array([x0, y0, x0, y0])
            kpx = kp * side + np.array([x0, y0])
            out.append(Detection(
                box=np.array([bx[0], bx[1], bx[2] - bx[0], bx[3] - bx[1]], dtype=np.float32),
                score=float(sc), keypoints=kpx.astype(np.float32), source=self.options.name))
        if max_faces is not None:
            out = out[: int(max_faces)]
        return out
