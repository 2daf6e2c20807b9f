"""Face front-end: BlazeFace detection (short / full range / auto), FaceMesh 468 landmarks, box sanity
and the emotion crop (LiteRT, no torch).

    from lrdif.sdk.face import FaceFrontEnd
    faces = FaceFrontEnd().process(rgb)        # rgb: HxWx3 uint8
    faces[0].crop, faces[0].crop_landmarks     # model inputs

The face models come from `lrdif.sdk.assets` (run `lrdif-setup` once).
"""
from lrdif.sdk.face.crop import crop_landmarks, emotion_crop_affine, warp_crop
from lrdif.sdk.face.detector import (ANCHORS, DETECTORS, FULL_RANGE, SHORT_RANGE, BlazeFaceDetector, Detection,
                                     DetectorOptions, ssd_anchors, weighted_nms)
from lrdif.sdk.face.frontend import (AUTO_FULL_BELOW, FACE_DETECTORS, QUALITIES, Face, FaceFrontEnd, RoiAgreement,
                                     TightCropStrategy, keypoints_from_landmarks, merge_detections)
from lrdif.sdk.face.tiling import Tiling, pyramid_windows, tile_windows, zoom_check
from lrdif.sdk.face.landmarker import FaceMeshLandmarker, Roi, roi_from_detection, roi_from_landmarks

__all__ = [
    "ANCHORS", "AUTO_FULL_BELOW", "BlazeFaceDetector", "DETECTORS", "Detection", "DetectorOptions",
    "FACE_DETECTORS", "FULL_RANGE", "Face", "FaceFrontEnd", "FaceMeshLandmarker", "QUALITIES", "Roi",
    "RoiAgreement", "SHORT_RANGE", "TightCropStrategy", "crop_landmarks", "emotion_crop_affine",
    "Tiling", "keypoints_from_landmarks", "merge_detections", "pyramid_windows", "roi_from_detection", "tile_windows",
    "roi_from_landmarks", "ssd_anchors", "warp_crop", "weighted_nms", "zoom_check",
]
