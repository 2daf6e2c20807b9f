"""`FaceFrontEnd`: detector -> FaceMesh -> box sanity -> emotion crop, for still images and video.

Detectors (`face_detector`): "short" (BlazeFace short range, MediaPipe's selfie-distance model),
"full" (BlazeFace full range, faces up to ~5 m) or "auto": short range first; the full-range model
runs as well only when short range finds no face or some face it finds is small (box narrower than
`AUTO_FULL_BELOW` of the frame's long side), so selfie-distance frames take exactly the short-range
path. For small faces found by both, the full-range box is kept (short range is at its limit there
and its boxes grow). Auto is two models, easy to port (the mobile cores' golden vectors).
"tiled" = find every face, for more time: auto's detections, each confirmed by FaceMesh; unless
that gives `max_faces` faces or only faces at selfie distance (then it costs what auto costs, plus
at most one short-range call per face), a detection pyramid (`lrdif.sdk.face.tiling`: short range
on overlapping windows sized so that a face of 5% of the long side fills 20% of one; 33-38 windows
at 4:3 / 16:9 / 9:16) and the whole frame at a lower score give candidates. A candidate, or any
detection smaller than selfie distance, must pass `zoom_check` (short range again on a square in
which the face fills 45%, score >= 0.6), which rejects the background's face-like patches that
FaceMesh alone accepts; where FaceMesh finds no face on a confirmed box it looks once more on a
larger ROI, and every face's landmarks are settled by one more FaceMesh pass on their own ROI.
Real faces from 5% of the long side up, at 4:3, 16:9 and 9:16: benchmarks/FACE_SIZE.md.

Box sanity: the FaceMesh landmarks must agree with the region they were computed from. From the
landmarks, MediaPipe's landmark-to-ROI rule gives the region the face really occupies; when its size
or centre disagrees with the detector's region beyond `RoiAgreement`, FaceMesh is run again on the
landmark region (MediaPipe's video-mode loop, at most `RoiAgreement.max_refinements` times).
`Face.quality` says what happened: "good" (agreed at once), "refined" (agreed after re-cropping),
"uncertain" (still disagrees, or the face presence fell below the threshold on the way: the crop is
not trustworthy).

Tight face crops (`tight_crop=TightCropStrategy()`): for images that are little more than a face
(FER2013 / FERPlus 48x48), the training landmark cache's strategy: grey canvas, FaceMesh on an
upscale, whole-image fallback (see `TightCropStrategy`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from lrdif.sdk.face._checks import check_landmarks_xy, check_rgb_frame
from lrdif.sdk.face.crop import check_crop_spec, crop_landmarks, emotion_crop_affine, warp_crop
from lrdif.sdk.face.detector import FULL_RANGE, SHORT_RANGE, BlazeFaceDetector, Detection
from lrdif.sdk.face.landmarker import FaceMeshLandmarker, Roi, roi_from_detection, roi_from_landmarks
from lrdif.sdk.face.tiling import Tiling, detect_in_windows, merge_windows, pyramid_windows, zoom_check
from lrdif.sdk.metadata import CropSpec

FACE_DETECTORS = ("short", "full", "auto", "tiled")
# auto: run full range too when a short-range face is narrower than this fraction of the frame's
# long side (or short range finds none). Short range finds few faces below ~16% and its boxes grow
# there (issue #16's 1920x1080 example: 15%); the sample photo (18.6%) and every golden frame stay
# above, so selfie-distance frames keep the short-range-only path (benchmarks/FACE_SIZE.md).
AUTO_FULL_BELOW = 0.17
QUALITIES = ("good", "refined", "uncertain")   # Face.quality values


@dataclass(frozen=True)
class Face:
    """One face. Frame coordinates in pixels (MediaPipe convention: normalised * frame size)."""
    box: np.ndarray             # (4,) x, y, w, h of the detection (for tracked faces: the landmark bbox)
    score: float                # detector score (tracked faces: the previous detection's score)
    keypoints: np.ndarray       # (6, 2) BlazeFace keypoints (tracked faces: estimated from landmarks)
    landmarks: np.ndarray       # (468, 3) FaceMesh x, y, z in frame px
    presence: float             # FaceMesh face-presence probability
    crop: np.ndarray            # (S, S, 3) uint8 emotion-model crop
    crop_landmarks: np.ndarray  # (468, 2) x, y in [0, 1] of the crop
    affine: np.ndarray          # (2, 3) frame pixel indices -> crop pixel indices (cv2.warpAffine)
    quality: str = "good"       # "good" | "refined" | "uncertain" (see the module docstring)
    source: str = ""            # "short" | "full" | "tile" | "track" | "canvas" | "fallback": where the ROI came from


@dataclass(frozen=True)
class RoiAgreement:
    """When FaceMesh's landmarks agree with the region it ran on: the landmark ROI (MediaPipe's
    landmarks -> ROI rule) is between `min_size_ratio` and `max_size_ratio` times that region's side
    and its centre within `max_shift` sides of it. On the golden and MediaPipe-fixture frames the
    landmark ROI is 0.95-1.21 times the detector's (MediaPipe's own FaceMesh gives the 1.21), so
    those faces are never re-cropped. An oversized detector box (issue #16: the short-range box of a
    face at ~10% of a 1920x1080 frame, ratio 0.90) makes FaceMesh see the face too small and gives a
    wrong crop ("neutral 0.40" instead of "happiness 0.99"); re-cropping from the landmarks fixes it
    (ratios 0.92, then 0.95: "refined", happiness 0.99).
    """
    min_size_ratio: float = 0.92
    max_size_ratio: float = 1.3
    max_shift: float = 0.12
    max_refinements: int = 2

    def agrees(self, used: Roi, found: Roi) -> bool:
        ratio = found.size / used.size
        shift = math.hypot(found.cx - used.cx, found.cy - used.cy) / used.size
        return bool(self.min_size_ratio <= ratio <= self.max_size_ratio and shift <= self.max_shift)


@dataclass(frozen=True)
class TightCropStrategy:
    """Faces in images that are (almost) only the face, such as FER2013/FERPlus 48x48 crops.

    1. detection: the image is centred on a larger mid-grey (`grey`) canvas so that it covers
       `fraction` of its side, for each of `fractions` in order (1.0 = the image itself), until the
       short-range detector finds a face (score >= `min_score`). Measured on 600 FERPlus images:
       face alone 573/600, 0.8 -> 595, 0.65 -> 598, 0.5 -> 599 (grey; replicate padding 580-584,
       black 593-597).
    2. landmarks: FaceMesh with MediaPipe's ROI from that detection, on a bicubic upscale of the
       image to a long side of >= `upscale_to` px, landmarks scaled back (on 48 px faces this halves
       the landmark error against MediaPipe on the full-resolution photo: 0.37 vs 0.70 px).
    3. fallback when nothing is found: the whole image is the face box with the eyes at
       `fallback_eyes` (fractions of width, height; level) and FaceMesh still runs on that ROI.
    """
    fractions: tuple[float, ...] = (0.6, 0.8, 0.45, 1.0)
    grey: int = 128
    upscale_to: int = 192
    min_score: float = 0.5
    fallback_eyes: tuple[tuple[float, float], tuple[float, float]] = ((0.3, 0.4), (0.7, 0.4))


def keypoints_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    p = np.asarray(landmarks)[:, :2]
    return np.stack([p[list(ix)].mean(0) for ix in _KEYPOINT_LANDMARKS]).astype(np.float32)


# FaceMesh indices standing in for BlazeFace's 6 keypoints on tracked faces
_KEYPOINT_LANDMARKS = ((33, 133), (362, 263), (1,), (13, 14), (234,), (454,))


def iou_xywh(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (x, y, w, h) boxes (the front-end's merge and the recognizer's track checks)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _sure(faces: list[Face]) -> int:
    return sum(f.quality != "uncertain" for f in faces)


def _same_face(a: np.ndarray, b: np.ndarray) -> bool:
    """Two (x, y, w, h) boxes of one face: IoU > 0.3, or either holds the other's centre."""
    def holds(p, q):
        cx, cy = q[0] + q[2] / 2, q[1] + q[3] / 2
        return p[0] <= cx <= p[0] + p[2] and p[1] <= cy <= p[1] + p[3]
    return iou_xywh(a, b) > 0.3 or holds(a, b) or holds(b, a)


def _dedupe(dets: list[Detection], iou: float = 0.3) -> list[Detection]:
    """Greedy: the best-scoring detection of each overlapping group."""
    out: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(iou_xywh(d.box, k.box) <= iou for k in out):
            out.append(d)
    return out


def merge_detections(short: list[Detection], full: list[Detection], long_side: float,
                     small: float = AUTO_FULL_BELOW, iou: float = 0.3) -> list[Detection]:
    """Auto mode: full-range (and tiled) detections, plus the short-range ones none of them overlaps;
    where both found a face, the short-range detection is kept if it is large (>= small *
    long_side), the other one otherwise. Best score first."""
    out = _dedupe(full, iou)
    for d in short:
        j = next((k for k, f in enumerate(out) if iou_xywh(d.box, f.box) > iou), None)
        if j is None:
            out.append(d)
        elif d.box[2] >= small * long_side:
            out[j] = d
    return sorted(out, key=lambda d: -d.score)


class FaceFrontEnd:
    """Face detection + 468 landmarks + box sanity + the emotion crop.

    process(rgb)            still image: detect every frame (MediaPipe static_image_mode).
    track(rgb, previous)    video: re-use the previous frame's landmarks as the ROI (MediaPipe's
                            video mode); returns None when the face is lost (presence < min_presence),
                            then call process() again.
    face_detector           "auto" (default), "short", "full" or "tiled" (see the module docstring).
    tiling                  a Tiling: tiled mode's pyramid, candidate checks and second looks.
    tight_crop              a TightCropStrategy: process() then treats every image as one tight face
                            crop (training caches of FER-style datasets); None = ordinary frames.
    """

    def __init__(self, crop_spec: CropSpec = CropSpec(), num_threads: int = 1,
                 min_detection_score: float = 0.5, min_presence: float = 0.5,
                 detector_path: str | Path | None = None, landmarker_path: str | Path | None = None,
                 download: bool = False, face_detector: str = "auto",
                 detector_full_path: str | Path | None = None,
                 agreement: RoiAgreement | None = RoiAgreement(),
                 tight_crop: TightCropStrategy | None = None, tiling: Tiling = Tiling()):
        from lrdif.sdk.assets import face_model_paths

        if face_detector not in FACE_DETECTORS:
            raise ValueError(f"face_detector must be one of {list(FACE_DETECTORS)}, got {face_detector!r}")
        if tight_crop is not None and not isinstance(tight_crop, TightCropStrategy):
            raise TypeError(f"tight_crop must be a TightCropStrategy or None, got {type(tight_crop).__name__}")
        if agreement is not None and not isinstance(agreement, RoiAgreement):
            raise TypeError(f"agreement must be a RoiAgreement or None, got {type(agreement).__name__}")
        self.crop_spec = check_crop_spec(crop_spec)
        self.face_detector = face_detector
        keys = ["landmarker"] + (["detector"] if face_detector != "full" or tight_crop else []) \
            + (["detector_full"] if face_detector != "short" else [])
        paths = face_model_paths(download=download, detector=detector_path, landmarker=landmarker_path,
                                 detector_full=detector_full_path, keys=tuple(keys))
        self.detector = self.detector_full = None
        if "detector" in paths:
            self.detector = BlazeFaceDetector(paths["detector"], num_threads=num_threads,
                                              min_score=min_detection_score, options=SHORT_RANGE)
        if "detector_full" in paths:
            # MediaPipe's full-range graph keeps only scores >= 0.6 whatever the caller asks
            self.detector_full = BlazeFaceDetector(paths["detector_full"], num_threads=num_threads,
                                                   min_score=max(min_detection_score, FULL_RANGE.min_score),
                                                   options=FULL_RANGE)
        self.landmarker = FaceMeshLandmarker(paths["landmarker"], num_threads=num_threads)
        self.min_presence = float(min_presence)
        self.agreement = agreement
        self.tight_crop = tight_crop
        if not isinstance(tiling, Tiling):
            raise TypeError(f"tiling must be a Tiling, got {type(tiling).__name__}")
        self.tiling = tiling
        self.min_detection_score = float(min_detection_score)

    # ------------------------------------------------------------------ detection
    def detect(self, rgb: np.ndarray, max_faces: int | None = None) -> list[Detection]:
        """Face detections by the configured detector(s), best first, at most `max_faces`.
        tiled: the auto detections, then (on auto's small-face condition) the pyramid's candidates
        down to `tiling.min_score`, which `process` keeps only when FaceMesh confirms them."""
        rgb = check_rgb_frame(rgb)
        if self.face_detector == "full":
            return self.detector_full.detect(rgb, max_faces=max_faces)
        short = self.detector.detect(rgb, max_faces=max_faces)
        if self.face_detector == "short":
            return short
        merged = self._merge_full(rgb, short)
        if self.face_detector == "tiled" and merged is not short:
            merged = merged + self._window_candidates(rgb, merged)
        return merged if max_faces is None else merged[: int(max_faces)]

    def _merge_full(self, rgb: np.ndarray, short: list[Detection]) -> list[Detection]:
        """auto: `short` itself when every face in it is at selfie distance, else merged with full range."""
        long_side = float(max(rgb.shape[:2]))
        if short and all(d.box[2] >= AUTO_FULL_BELOW * long_side for d in short):
            return short                                  # selfie distance: short range only
        return merge_detections(short, self.detector_full.detect(rgb), long_side)

    def _window_candidates(self, rgb: np.ndarray, found: list) -> list[Detection]:
        """tiled: the pyramid's detections (best first) that overlap none of `found` (Detections or Faces)."""
        t = self.tiling
        h, w = rgb.shape[:2]
        wins = detect_in_windows(self.detector, rgb, pyramid_windows(h, w, t), min_score=t.min_score,
                                 edge_margin=t.edge_margin) + self.detector.detect(rgb, min_score=t.min_score)
        return [replace(d, source="tile") for d in merge_windows(wins)
                if not any(_same_face(d.box, f.box) for f in found)]

    # ------------------------------------------------------------------ landmarks
    def landmarks_from_roi(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Run FaceMesh on an explicit ROI: ((468, 3) frame px, presence)."""
        return self.landmarker.landmarks(rgb, roi)

    def landmarks_from_previous(self, rgb: np.ndarray, previous_landmarks) -> tuple[np.ndarray, float]:
        """Run FaceMesh with the ROI MediaPipe derives from the previous frame's landmarks."""
        return self.landmarker.landmarks(rgb, roi_from_landmarks(previous_landmarks))

    def checked_landmarks(self, rgb: np.ndarray, roi: Roi, second_look: bool = False) -> tuple[np.ndarray, float, str]:
        """FaceMesh on `roi`, then the box sanity loop: ((468, 3) landmarks, presence, quality).
        Quality "uncertain" when the landmarks never agree with their ROI or presence drops.
        second_look: when presence is low on `roi`, FaceMesh again on `tiling.second_look_scales`
        times larger ROIs (the first one that finds the face goes on, quality at best "refined")."""
        lm, presence = self.landmarker.landmarks(rgb, roi, check=False)
        quality = "good"
        if second_look and presence < self.min_presence:
            for k in self.tiling.second_look_scales:
                bigger = Roi(roi.cx, roi.cy, roi.size * k, roi.rotation)
                lm, presence = self.landmarker.landmarks(rgb, bigger, check=False)
                if presence >= self.min_presence:
                    roi, quality = bigger, "refined"
                    break
        if self.agreement is None or presence < self.min_presence:
            return lm, presence, quality
        for i in range(self.agreement.max_refinements + 1):
            found = roi_from_landmarks(lm)
            if self.agreement.agrees(roi, found):
                return lm, presence, quality
            if i == self.agreement.max_refinements:
                break
            roi, quality = found, "refined"                 # MediaPipe's landmarks -> ROI loop
            lm, presence = self.landmarker.landmarks(rgb, roi, check=False)
            if presence < self.min_presence:
                break
        return lm, presence, "uncertain"

    # ------------------------------------------------------------------ faces
    def make_face(self, rgb: np.ndarray, landmarks: np.ndarray, presence: float,
                  box=None, score: float = float("nan"), keypoints=None, quality: str = "good",
                  source: str = "") -> Face:
        spec = self.crop_spec
        lm = np.asarray(landmarks, dtype=np.float32)
        affine = emotion_crop_affine(lm[:, :2], spec)
        if box is None:
            lo, hi = lm[:, :2].min(0), lm[:, :2].max(0)
            box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], dtype=np.float32)
        if keypoints is None:
            keypoints = keypoints_from_landmarks(lm)
        return Face(box=np.asarray(box, dtype=np.float32), score=float(score),
                    keypoints=np.asarray(keypoints, dtype=np.float32), landmarks=lm,
                    presence=float(presence), crop=warp_crop(rgb, affine, spec.size),
                    crop_landmarks=crop_landmarks(lm[:, :2], affine, spec.size),
                    affine=affine.astype(np.float32), quality=quality, source=source)

    def process(self, rgb: np.ndarray, max_faces: int = 1) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB frame, best detection first (at most `max_faces`).
        With `tight_crop`, the frame is one tight face crop and exactly one Face comes back."""
        rgb = check_rgb_frame(rgb)
        if not isinstance(max_faces, (int, np.integer)) or max_faces < 1:
            raise ValueError(f"max_faces must be a positive int, got {max_faces!r}")
        if self.tight_crop is not None:
            return [self.process_tight(rgb)]
        if self.face_detector == "tiled":
            return self._process_tiled(rgb, int(max_faces))
        faces = []
        for det in self.detect(rgb, max_faces=int(max_faces)):
            face = self._face_from_detection(rgb, det)
            if face is not None:
                faces.append(face)
        return faces

    def _face_from_detection(self, rgb: np.ndarray, det: Detection, second_look: bool = False,
                             settle: bool = False) -> Face | None:
        """FaceMesh + box sanity on one detection; None when FaceMesh finds no face there. settle:
        one more FaceMesh pass on the landmarks' own ROI (tiled mode, `tiling.settle`)."""
        roi = roi_from_detection(det.box, det.keypoints, rgb.shape[:2])
        lm, presence, quality = self.checked_landmarks(rgb, roi, second_look=second_look)
        if presence < self.min_presence:
            return None
        if settle and quality != "uncertain":
            lm2, p2 = self.landmarker.landmarks(rgb, roi_from_landmarks(lm), check=False)
            if p2 >= self.min_presence:
                lm, presence = lm2, p2
        # a refined face's detector box was wrong: report the landmarks' box instead
        box = det.box if quality == "good" else None
        return self.make_face(rgb, lm, presence, box, det.score, det.keypoints, quality, det.source)

    def _process_tiled(self, rgb: np.ndarray, max_faces: int) -> list[Face]:
        """tiled: auto's detections confirmed by FaceMesh; unless that gave `max_faces` faces or only
        faces at selfie distance, then the pyramid's candidates where no face is yet."""
        faces = self._confirm(rgb, self._merge_full(rgb, self.detector.detect(rgb)), max_faces, [])
        long_side = float(max(rgb.shape[:2]))
        if _sure(faces) >= max_faces or (faces and all(f.box[2] >= AUTO_FULL_BELOW * long_side and
                                                      f.quality != "uncertain" for f in faces)):
            return faces
        sure = [f for f in faces if f.quality != "uncertain"]
        return self._confirm(rgb, self._window_candidates(rgb, sure), max_faces, faces)

    def _confirm(self, rgb: np.ndarray, dets: list[Detection], max_faces: int, faces: list[Face]) -> list[Face]:
        """Append to `faces` the detections `_look` confirms, best first, until `max_faces` are not
        "uncertain"; at most max_faces + tiling.max_candidates detections are tried. A face whose
        box overlaps (or holds the centre of) one already kept is the same face."""
        faces = list(faces)
        for det in dets[: max_faces + self.tiling.max_candidates]:
            if _sure(faces) >= max_faces:
                break
            face = self._look(rgb, det)
            if face is None:
                continue
            same = [i for i, f in enumerate(faces) if _same_face(face.box, f.box)]
            if not same:
                faces.append(face)
            elif face.quality != "uncertain" and all(faces[i].quality == "uncertain" for i in same):
                faces = [f for i, f in enumerate(faces) if i not in same] + [face]   # a better look at it
        # confirmed faces first (the recognizer drops "uncertain" ones unless asked to keep them)
        return sorted(faces, key=lambda f: f.quality == "uncertain")[:max_faces]

    def _look(self, rgb: np.ndarray, det: Detection) -> Face | None:
        """tiled: one detection -> Face or None. A window detection ("tile") or one smaller than
        auto's selfie distance must pass `zoom_check`, and its zoomed box is used. One up to
        `tiling.verify_below` of the long side is looked at through the zoomed box too when that is
        much smaller (an oversized whole-frame box makes FaceMesh fit the face too large), and
        through its own box if that fails. Where every look finds no face or an "uncertain" one,
        the zoomed box gets a second look (`checked_landmarks`). A detection below
        min_detection_score must end with landmarks that agree with it (quality not "uncertain")."""
        t, long_side = self.tiling, float(max(rgb.shape[:2]))
        zoomed, looks = None, [det]
        if det.source == "tile" or det.box[2] < AUTO_FULL_BELOW * long_side:
            zoomed = zoom_check(self.detector, rgb, det, t)
            if zoomed is None:
                return None                               # not confirmed
            looks = [zoomed]
        elif det.box[2] < t.verify_below * long_side:
            zoomed = zoom_check(self.detector, rgb, det, t)
            looks = [zoomed, det] if zoomed is not None and zoomed.box[2] < 0.8 * det.box[2] else [det]
        else:
            zoomed = False                                # not looked at yet
        best = None
        for d in looks:
            face = self._face_from_detection(rgb, d, settle=t.settle)
            if face is not None and face.quality != "uncertain":
                return face
            best = best or face
        if zoomed is False:
            zoomed = zoom_check(self.detector, rgb, det, t)
        again = None if zoomed is None else self._face_from_detection(rgb, zoomed, second_look=True, settle=t.settle)
        face = again if again is not None and (best is None or again.quality != "uncertain") else best
        if face is None or (det.score < self.min_detection_score and face.quality == "uncertain"):
            return None
        return face

    def track(self, rgb: np.ndarray, previous: Face) -> Face | None:
        """Video mode: landmarks from the previous face's landmarks ROI; None if the face is lost."""
        rgb = check_rgb_frame(rgb)
        if not isinstance(previous, Face):
            raise TypeError(f"previous must be a Face from process()/track(), got {type(previous).__name__}")
        check_landmarks_xy(previous.landmarks, "previous.landmarks")
        lm, presence, quality = self.checked_landmarks(rgb, roi_from_landmarks(previous.landmarks))
        if presence < self.min_presence:
            return None
        return self.make_face(rgb, lm, presence, score=previous.score, quality=quality, source="track")

    # ------------------------------------------------------------------ tight face crops
    def _detect_on_canvas(self, rgb: np.ndarray, s: TightCropStrategy):
        """(box, keypoints, score, fraction) of the first canvas fraction that finds a face, or None."""
        h, w = rgb.shape[:2]
        for frac in s.fractions:
            if frac >= 1.0:
                canvas, px, py = rgb, 0, 0
            else:
                side = int(round(max(h, w) / frac))
                px, py = (side - w) // 2, (side - h) // 2
                canvas = cv2.copyMakeBorder(rgb, py, side - h - py, px, side - w - px, cv2.BORDER_CONSTANT,
                                            value=(s.grey,) * 3)
            d = self.detector.detect(canvas, max_faces=1, min_score=s.min_score)
            if d:
                off = np.array([px, py], dtype=np.float32)
                box = d[0].box.copy()
                box[:2] -= off
                return box, d[0].keypoints - off, d[0].score, frac
        return None

    def tight_landmarks(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float, float | None]:
        """TightCropStrategy steps 1-3 on one image: ((468, 3) landmarks in image px, detector score
        (0 for the fallback), presence, canvas fraction that found the face or None = fallback)."""
        s = self.tight_crop or TightCropStrategy()
        rgb = check_rgb_frame(rgb)
        h, w = rgb.shape[:2]
        r = self._detect_on_canvas(rgb, s)
        if r is None:
            box = np.array([0.0, 0.0, w, h], dtype=np.float32)
            kps = np.array([[ex * w, ey * h] for ex, ey in s.fallback_eyes], dtype=np.float32)
            score, frac = 0.0, None
        else:
            box, kps, score, frac = r
        k = max(1.0, s.upscale_to / max(h, w))
        if k > 1.0:
            uw, uh = int(round(w * k)), int(round(h * k))
            src = cv2.resize(rgb, (uw, uh), interpolation=cv2.INTER_CUBIC)
            kx, ky = uw / w, uh / h
        else:
            src, kx, ky = rgb, 1.0, 1.0
        sc = np.array([kx, ky], dtype=np.float32)
        ubox = np.asarray(box, dtype=np.float32) * np.concatenate([sc, sc])
        roi = roi_from_detection(ubox, np.asarray(kps, dtype=np.float32) * sc, src.shape[:2])
        lm, presence = self.landmarker.landmarks(src, roi, check=False)
        out = lm.copy()
        out[:, :2] = lm[:, :2] / sc
        out[:, 2] = lm[:, 2] / sc[0]
        return out, float(score), float(presence), frac

    def process_tight(self, rgb: np.ndarray) -> Face:
        """One Face for an image that is a tight face crop (TightCropStrategy); never empty:
        source "canvas" when a face was detected, "fallback" (quality "uncertain") otherwise."""
        rgb = check_rgb_frame(rgb)
        lm, score, presence, frac = self.tight_landmarks(rgb)
        found = frac is not None
        quality = "good" if found and presence >= self.min_presence else "uncertain"
        return self.make_face(rgb, lm, presence, score=score, quality=quality,
                              source="canvas" if found else "fallback")

