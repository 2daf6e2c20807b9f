"""Face front-end: BlazeFace detection, FaceMesh 468 landmarks and the emotion crop (LiteRT, no torch).

    from lrdif.sdk.face import FaceFrontEnd
    faces = FaceFrontEnd().process(rgb)        # rgb: HxWx3 uint8
    faces[0].crop, faces[0].crop_landmarks     # model inputs

The face models come from `lrdif.sdk.assets` (run `lrdif-setup` once).
"""
from lrdif.sdk.face.crop import crop_landmarks, emotion_crop_affine, warp_crop
from lrdif.sdk.face.detector import ANCHORS, BlazeFaceDetector, Detection, ssd_anchors, weighted_nms
from lrdif.sdk.face.frontend import Face, FaceFrontEnd, keypoints_from_landmarks
from lrdif.sdk.face.landmarker import FaceMeshLandmarker, Roi, roi_from_detection, roi_from_landmarks

__all__ = [
    "ANCHORS", "BlazeFaceDetector", "Detection", "Face", "FaceFrontEnd", "FaceMeshLandmarker", "Roi",
    "crop_landmarks", "emotion_crop_affine", "keypoints_from_landmarks", "roi_from_detection",
    "roi_from_landmarks", "ssd_anchors", "warp_crop", "weighted_nms",
]
