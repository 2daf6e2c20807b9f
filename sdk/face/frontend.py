"""`FaceFrontEnd`: detector -> FaceMesh -> emotion crop, for still images and video."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrdif.sdk.face._checks import check_landmarks_xy, check_rgb_frame
from lrdif.sdk.face.crop import check_crop_spec, crop_landmarks, emotion_crop_affine, warp_crop
from lrdif.sdk.face.detector import BlazeFaceDetector, Detection
from lrdif.sdk.face.landmarker import FaceMeshLandmarker, Roi, roi_from_detection, roi_from_landmarks
from lrdif.sdk.metadata import CropSpec


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


# FaceMesh indices standing in for BlazeFace's 6 keypoints on tracked faces
_KEYPOINT_LANDMARKS = ((33, 133), (362, 263), (1,), (13, 14), (234,), (454,))


def keypoints_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    p = np.asarray(landmarks)[:, :2]
    return np.stack([p[list(ix)].mean(0) for ix in _KEYPOINT_LANDMARKS]).astype(np.float32)


class FaceFrontEnd:
    """Face detection + 468 landmarks + the emotion crop.

    process(rgb)            still image: detect every frame (MediaPipe static_image_mode).
    track(rgb, previous)    video: re-use the previous frame's landmarks as the ROI (MediaPipe's
                            video mode); returns None when the face is lost (presence < min_presence),
                            then call process() again.
    """

    def __init__(self, crop_spec: CropSpec = CropSpec(), num_threads: int = 1,
                 min_detection_score: float = 0.5, min_presence: float = 0.5,
                 detector_path: str | Path | None = None, landmarker_path: str | Path | None = None,
                 download: bool = False):
        from lrdif.sdk.assets import face_model_paths

        self.crop_spec = check_crop_spec(crop_spec)
        if detector_path is None or landmarker_path is None:
            paths = face_model_paths(download=download, detector=detector_path, landmarker=landmarker_path)
        else:
            paths = face_model_paths(download=False, detector=detector_path, landmarker=landmarker_path)
        self.detector = BlazeFaceDetector(paths["detector"], num_threads=num_threads,
                                          min_score=min_detection_score)
        self.landmarker = FaceMeshLandmarker(paths["landmarker"], num_threads=num_threads)
        self.min_presence = float(min_presence)

    def detect(self, rgb: np.ndarray, max_faces: int | None = None) -> list[Detection]:
        return self.detector.detect(rgb, max_faces=max_faces)

    def landmarks_from_roi(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Run FaceMesh on an explicit ROI: ((468, 3) frame px, presence)."""
        return self.landmarker.landmarks(rgb, roi)

    def landmarks_from_previous(self, rgb: np.ndarray, previous_landmarks) -> tuple[np.ndarray, float]:
        """Run FaceMesh with the ROI MediaPipe derives from the previous frame's landmarks."""
        return self.landmarker.landmarks(rgb, roi_from_landmarks(previous_landmarks))

    def make_face(self, rgb: np.ndarray, landmarks: np.ndarray, presence: float,
                  box=None, score: float = float("nan"), keypoints=None) -> Face:
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
                    affine=affine.astype(np.float32))

    def process(self, rgb: np.ndarray, max_faces: int = 1) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB frame, best detection first (at most `max_faces`)."""
        rgb = check_rgb_frame(rgb)
        if not isinstance(max_faces, (int, np.integer)) or max_faces < 1:
            raise ValueError(f"max_faces must be a positive int, got {max_faces!r}")
        faces = []
        for det in self.detector.detect(rgb, max_faces=int(max_faces)):
            roi = roi_from_detection(det.box, det.keypoints, rgb.shape[:2])
            lm, presence = self.landmarker.landmarks(rgb, roi, check=False)
            if presence < self.min_presence:
                continue
            faces.append(self.make_face(rgb, lm, presence, det.box, det.score, det.keypoints))
        return faces

    def track(self, rgb: np.ndarray, previous: Face) -> Face | None:
        """Video mode: landmarks from the previous face's landmarks ROI; None if the face is lost."""
        rgb = check_rgb_frame(rgb)
        if not isinstance(previous, Face):
            raise TypeError(f"previous must be a Face from process()/track(), got {type(previous).__name__}")
        check_landmarks_xy(previous.landmarks, "previous.landmarks")
        lm, presence = self.landmarks_from_previous(rgb, previous.landmarks)
        if presence < self.min_presence:
            return None
        return self.make_face(rgb, lm, presence, score=previous.score)
