"""Facial-region groups of the 468 MediaPipe FaceMesh landmarks, for the landmark heatmap.

Index sets are the landmarks used by MediaPipe's `face_mesh_connections` (FACEMESH_LIPS, _LEFT_EYE,
_RIGHT_EYE, _LEFT_EYEBROW, _RIGHT_EYEBROW, _FACE_OVAL, _NOSE). FaceMesh indices are not contiguous
per region, so the groups are explicit lists. "left"/"right" are the subject's.
"""
from __future__ import annotations

import numpy as np

RIGHT_EYEBROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_EYEBROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45,
        220, 115, 48, 64)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270,
        409, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311,
        310, 415)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

# group order = heatmap channel order; "all" (every landmark: the face's overall shape) first
REGIONS: tuple[tuple[str, tuple[int, ...] | None], ...] = (
    ("all", None),
    ("lips", LIPS),
    ("right_eye", RIGHT_EYE),
    ("left_eye", LEFT_EYE),
    ("right_eyebrow", RIGHT_EYEBROW),
    ("left_eyebrow", LEFT_EYEBROW),
    ("nose", NOSE),
    ("face_oval", FACE_OVAL),
)


def region_matrix(num_landmarks: int = 468, groups: int = 8) -> np.ndarray:
    """(num_landmarks, groups) float32 membership matrix: M[n, g] = 1 if landmark n is in region g.

    The heatmap renderer sums the Gaussians of a region (heat = G^T M) and squashes the sum with
    h / (1 + h), so a channel reads ~ "how many region landmarks are near this pixel", bounded in [0, 1).
    """
    if not 1 <= groups <= len(REGIONS):
        raise ValueError(f"groups must be in 1..{len(REGIONS)}, got {groups}")
    m = np.zeros((num_landmarks, groups), dtype=np.float32)
    for g, (_, idx) in enumerate(REGIONS[:groups]):
        rows = np.arange(num_landmarks) if idx is None else np.asarray(idx)
        rows = rows[rows < num_landmarks]
        if len(rows) == 0:
            rows = np.arange(num_landmarks)
        m[rows, g] = 1.0
    return m


# --------------------------------------------------------------------------- FaceMesh mirror
# In MediaPipe's canonical face mesh (canonical_face_model.obj) vertices 0..247 are the mid-line
# (x == 0) and one side; vertices 248..467 are the mirror images (x -> -x) of the non-mid-line
# vertices among 0..247, in the same order. Mid-line vertices map to themselves.
_MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164, 168,
            175, 195, 197, 199, 200)


def _mirror_perm() -> np.ndarray:
    perm = np.arange(468)
    side = [i for i in range(248) if i not in _MIDLINE]
    assert len(side) == 220
    for k, i in enumerate(side):
        perm[i], perm[248 + k] = 248 + k, i
    return perm


FACEMESH_MIRROR = _mirror_perm()  # e.g. 33 <-> 263 (outer eye corners), 61 <-> 291 (mouth corners)
