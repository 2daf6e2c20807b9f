"""Detection pyramid of `face_detector="tiled"`: BlazeFace short range on overlapping square windows
of several sizes, so that a face of `Tiling.min_face` of the frame's long side still fills
`Tiling.face_in_window` of some window (the detector's 128x128 input), merged across windows by
MediaPipe's weighted non-maximum suppression.

Measured (benchmarks/FACE_SIZE.md, "How tiled works"): faces of 48 px on a photo
background, as a fraction of the square the short-range detector sees: real faces (the sample
photo, insightface's group photo) are found 0.79 / 0.96 / 1.00 of the time at 12 / 16 / 20%;
FERPlus crops (48 px grey, no hair) 0.03 / 0.23 / 0.78 / 0.82 / 0.95 at 12 / 16 / 20 / 25 / 30%
with the graph's 0.5 score threshold, 0.93-0.97 from 20% at a 0.3 threshold. So the finest level
has windows of min_face / face_in_window of the long side, each level `level_ratio` times the one
before, up to squares of the frame's short side; neighbours overlap by the largest face the level
is for, so every such face lies whole inside a window. A detection touching a window edge that is
inside the frame is a cut face and is dropped (the neighbour holds it whole).

Window detections down to `min_score` are candidates only: `FaceFrontEnd` keeps one when FaceMesh
confirms it (presence >= min_presence and the landmarks agree with the box, `RoiAgreement`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrdif.sdk.face.detector import BlazeFaceDetector, Detection, weighted_nms


@dataclass(frozen=True)
class Tiling:
    """The detection pyramid of face_detector="tiled" (see the module docstring).

    min_face: smallest face looked for, as a fraction of the frame's long side.
    face_in_window: the face / window side ratio from which short range finds faces reliably.
    level_ratio: window side growth per level (> 1); neighbours overlap by face_in_window *
        level_ratio of their side (at most half of it).
    max_windows: cap on detector calls per frame; above it the finest windows grow (by 10% steps)
        until the pyramid fits, i.e. the smallest face found grows.
    min_score: detector score from which a window detection is a candidate for FaceMesh to confirm.
    edge_margin: a detection closer than this fraction of the window side to an inner window edge
        is a cut face and is dropped.
    max_candidates: most candidates checked per frame beyond max_faces.
    verify_face_in_window, verify_score: a window detection is kept only when short range, run
        again on a square centred on it in which the face fills verify_face_in_window, finds it
        there with a score >= verify_score (measured on 1,373 window detections of real and FERPlus
        faces at 5-12% and of the backgrounds: of the faces FaceMesh accepted, 319 of 323 score
        >= 0.6 there (315 >= 0.7); of the background patches FaceMesh accepted, 66 of 66 < 0.6).
    second_look_scales: when FaceMesh finds no face (presence below the threshold) on a
        candidate's ROI, it runs again on the ROI grown by each factor in turn (FERPlus faces
        pasted at 200 px: 9 of the 30 auto misses have a detector box too tight for FaceMesh).
    """
    min_face: float = 0.05
    face_in_window: float = 0.2
    level_ratio: float = 2.0
    max_windows: int = 40
    min_score: float = 0.3
    edge_margin: float = 0.02
    max_candidates: int = 4
    verify_face_in_window: float = 0.45
    verify_score: float = 0.6
    verify_below: float = 0.3
    second_look_scales: tuple[float, ...] = (1.45,)
    settle: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.min_face <= 1 or not 0 < self.face_in_window <= 1:
            raise ValueError(f"min_face and face_in_window must be in (0, 1], got {self.min_face}, "
                             f"{self.face_in_window}")
        if not self.level_ratio > 1 or self.max_windows < 1 or self.max_candidates < 0:
            raise ValueError("level_ratio must be > 1, max_windows >= 1, max_candidates >= 0")
        if not 0 < self.verify_face_in_window <= 1 or not 0 <= self.verify_score <= 1 \
                or any(not k > 0 for k in self.second_look_scales):
            raise ValueError("verify_face_in_window must be in (0, 1], verify_score in [0, 1], "
                             "second_look_scales > 0")
        if not 0 <= self.min_score <= 1 or not 0 <= self.edge_margin < 0.5:
            raise ValueError(f"min_score must be in [0, 1] and edge_margin in [0, 0.5), got "
                             f"{self.min_score}, {self.edge_margin}")


def tile_windows(h: int, w: int, side: int, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Square windows (x, y, side) of `side` px (at most the frame's short side) covering an h x w
    frame with at least `overlap` of a side shared between neighbours."""
    side = int(min(side, h, w))
    step = max(1.0, side * (1.0 - overlap))

    def starts(n: int) -> np.ndarray:
        if n - side <= 0.1 * side:                       # one (centred) window is enough
            return np.array([(n - side) // 2])
        k = int(np.ceil((n - side) / step)) + 1
        return np.linspace(0, n - side, k).round().astype(int)

    return [(int(x), int(y), side) for y in starts(h) for x in starts(w)]


def _levels(h: int, w: int, side0: float, t: Tiling) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    short, side = min(h, w), side0
    while True:
        s = int(round(min(side, short)))
        if not (s == h and s == w):                      # the whole frame is the non-tiled pass
            out += tile_windows(h, w, s, min(0.5, t.face_in_window * t.level_ratio))
        if s >= short:
            return out
        side *= t.level_ratio


def pyramid_windows(h: int, w: int, tiling: Tiling = Tiling()) -> list[tuple[int, int, int]]:
    """The pyramid's windows (x, y, side) for an h x w frame, finest level first, at most
    `tiling.max_windows` of them (the finest windows grow until they fit)."""
    side0 = max(1.0, tiling.min_face * max(h, w) / tiling.face_in_window)
    while True:
        wins = _levels(h, w, side0, tiling)
        if len(wins) <= tiling.max_windows or side0 >= min(h, w):
            return wins[: tiling.max_windows]
        side0 *= 1.1


def _cut(box: np.ndarray, x: int, y: int, s: int, h: int, w: int, margin: float) -> bool:
    """Does the box touch an edge of window (x, y, s) that lies inside the h x w frame?"""
    m = margin * s
    x0, y0, x1, y1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
    return bool((x > 0 and x0 < x + m) or (y > 0 and y0 < y + m)
                or (x + s < w and x1 > x + s - m) or (y + s < h and y1 > y + s - m))


def detect_in_windows(detector: BlazeFaceDetector, rgb: np.ndarray, windows, min_score: float | None = None,
                      edge_margin: float | None = None) -> list[Detection]:
    """Run `detector` on each window; every detection in frame pixels. With `edge_margin`, a
    detection touching an inner window edge (a cut face) is dropped."""
    h, w = rgb.shape[:2]
    out = []
    for x, y, s in windows:
        for d in detector.detect(np.ascontiguousarray(rgb[y:y + s, x:x + s]), min_score=min_score):
            d = _in_frame(d, x, y, d.source)
            if edge_margin is None or not _cut(d.box, x, y, s, h, w, edge_margin):
                out.append(d)
    return out


def _in_frame(d: Detection, x: float, y: float, source: str) -> Detection:
    """A detection made on a window whose top-left corner is frame pixel (x, y), in frame pixels."""
    off = np.array([x, y], dtype=np.float32)
    box = d.box.copy()
    box[:2] += off
    return Detection(box=box, score=d.score, keypoints=d.keypoints + off, source=source)


def merge_windows(dets: list[Detection], iou: float = 0.3) -> list[Detection]:
    """MediaPipe's weighted NMS across windows (boxes and keypoints blended by score), best first."""
    if not dets:
        return []
    boxes = np.array([[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]] for d in dets], np.float64)
    kps = np.stack([d.keypoints for d in dets]).astype(np.float64)
    scores = np.array([d.score for d in dets], np.float64)
    out = []
    for b, k, sc in weighted_nms(boxes, kps, scores, iou):
        out.append(Detection(box=np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]], np.float32), score=sc,
                             keypoints=k.astype(np.float32), source=dets[0].source))
    return out


def zoom_check(detector: BlazeFaceDetector, rgb: np.ndarray, det: Detection, tiling: Tiling = Tiling(),
               rounds: int = 2) -> Detection | None:
    """Short range again on a square centred on `det` in which it fills `tiling.verify_face_in_window`
    (black outside the frame, like the detector's letterbox): the detection found there, near the
    centre, with a score >= `tiling.verify_score`, in frame pixels; None if there is none. When
    that box is not within 20% of the size of the one it looked for, once more around the new box
    (up to `rounds` looks): a face far smaller than its box fills too little of the square."""
    for _ in range(rounds):
        found = _zoom_once(detector, rgb, det, tiling)
        if found is None or 0.8 <= found.box[2] / det.box[2] <= 1.25:
            return found
        det = found
    return found


def _zoom_once(detector: BlazeFaceDetector, rgb: np.ndarray, det: Detection, tiling: Tiling) -> Detection | None:
    size = float(max(det.box[2], det.box[3]))
    side = max(8, int(round(size / tiling.verify_face_in_window)))
    cx, cy = det.box[0] + det.box[2] / 2, det.box[1] + det.box[3] / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = rgb.shape[:2]
    win = np.zeros((side, side, 3), np.uint8)
    ax, ay, bx, by = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if bx <= ax or by <= ay:
        return None
    win[ay - y0:by - y0, ax - x0:bx - x0] = rgb[ay:by, ax:bx]
    for d in detector.detect(win, min_score=tiling.verify_score):
        dx, dy = d.box[0] + d.box[2] / 2 - side / 2, d.box[1] + d.box[3] / 2 - side / 2
        if abs(dx) <= size / 2 and abs(dy) <= size / 2:
            return _in_frame(d, x0, y0, det.source)
    return None
