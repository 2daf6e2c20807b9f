"""face_detector="tiled" (lrdif.sdk.face.tiling): the detection pyramid's windows, the zoom check
that rejects the background's face-like patches, FaceMesh's second look, and small real faces found
end to end. Real models, real photos (scikit-image's)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.assets import sample_image
from lrdif.sdk.face import FaceFrontEnd, Roi, Tiling, pyramid_windows, roi_from_detection, zoom_check
from lrdif.sdk.face.frontend import iou_xywh
from test_sdk_support import require_face_models

ASTRONAUT_FACE = (178, 83, 95)       # the sample photo's face box (x, y, side), 512 px photo


@pytest.fixture(scope="module")
def tiled() -> FaceFrontEnd:
    require_face_models()
    return FaceFrontEnd(num_threads=1, face_detector="tiled")


def cover(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Scale a photo to cover h x w and centre-crop it (benchmarks.face_size's backgrounds)."""
    k = max(h / img.shape[0], w / img.shape[1])
    r = cv2.resize(img, (max(w, int(np.ceil(img.shape[1] * k))), max(h, int(np.ceil(img.shape[0] * k)))),
                   interpolation=cv2.INTER_LINEAR)
    y0, x0 = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return np.ascontiguousarray(r[y0:y0 + h, x0:x0 + w])


def small_face_frame(face_px: int = 48, h: int = 540, w: int = 960, at=(600, 200)) -> tuple[np.ndarray, tuple]:
    """The sample photo shrunk so that its face is `face_px` wide, pasted on skimage's coffee."""
    k = face_px / ASTRONAUT_FACE[2]
    photo = cv2.resize(sample_image(), None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    frame = cover(data.coffee(), h, w)
    x, y = at
    frame[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
    fx, fy, fs = (v * k for v in ASTRONAUT_FACE)
    return frame, (x + fx, y + fy, fs)


@pytest.mark.parametrize("h,w", [(720, 960), (540, 960), (960, 540), (480, 640), (1080, 1920)])
def test_pyramid_holds_every_small_face_whole_at_a_detectable_scale(h, w):
    """Every face from 5% of the long side up to 40% of the short side lies whole inside a window
    that it fills by at least face_in_window (where short range finds real faces)."""
    t = Tiling()
    wins = np.array(pyramid_windows(h, w, t))
    assert 0 < len(wins) <= t.max_windows
    assert (wins[:, 0] >= 0).all() and (wins[:, 1] >= 0).all()
    assert (wins[:, 0] + wins[:, 2] <= w).all() and (wins[:, 1] + wins[:, 2] <= h).all()
    rng = np.random.default_rng(0)
    for _ in range(300):
        f = rng.uniform(t.min_face * max(h, w), 0.4 * min(h, w))
        x, y = rng.uniform(0, w - f), rng.uniform(0, h - f)
        inside = (wins[:, 0] <= x) & (wins[:, 1] <= y) & (wins[:, 0] + wins[:, 2] >= x + f) \
            & (wins[:, 1] + wins[:, 2] >= y + f)
        assert inside.any() and (f / wins[inside, 2]).max() >= t.face_in_window - 1e-6, (f, x, y)


def test_pyramid_cap_grows_the_finest_windows():
    few = pyramid_windows(720, 960, Tiling(max_windows=12))
    assert len(few) <= 12 and min(s for *_, s in few) > min(s for *_, s in pyramid_windows(720, 960))
    with pytest.raises(ValueError):
        Tiling(level_ratio=1.0)


def test_zoom_check_rejects_the_background_patch_facemesh_accepts(tiled):
    """skimage's rocket at 960x720 holds a face-like patch: the pyramid proposes it (score >= 0.5)
    and FaceMesh alone calls it a face (presence > 0.8); the zoom check does not find it again."""
    frame = cover(data.rocket(), 720, 960)
    cands = tiled._window_candidates(frame, [])
    fake = [d for d in cands if d.score >= 0.5]
    assert fake, "the rocket's face-like patch is no longer proposed: pick another frame"
    _, presence = tiled.landmarker.landmarks(frame, roi_from_detection(fake[0].box, fake[0].keypoints, frame.shape[:2]))
    assert presence > 0.8
    assert all(zoom_check(tiled.detector, frame, d, tiled.tiling) is None for d in cands)
    assert tiled.process(frame, max_faces=4) == []


def test_zoom_check_finds_a_real_face_again_with_a_fitting_box(tiled):
    frame, (x, y, s) = small_face_frame(48)
    cand = next(d for d in tiled._window_candidates(frame, []) if iou_xywh(d.box, np.array([x, y, s, s])) > 0.3)
    z = zoom_check(tiled.detector, frame, cand, tiled.tiling)
    assert z is not None and z.score >= tiled.tiling.verify_score
    assert iou_xywh(z.box, np.array([x, y, s, s])) > 0.5
    # an oversized box around the same face: the zoom check finds the face's own box
    big = type(cand)(box=np.array([x - s, y - s, 3 * s, 3 * s], np.float32), score=0.6,
                     keypoints=cand.keypoints, source="short")
    z = zoom_check(tiled.detector, frame, big, tiled.tiling)
    assert z is not None and 0.7 * s <= z.box[2] <= 1.4 * s


def test_second_look_finds_the_face_on_a_too_tight_roi(tiled):
    img = sample_image()
    d = tiled.detector.detect(img)[0]
    roi = roi_from_detection(d.box, d.keypoints, img.shape[:2])
    tight = Roi(roi.cx, roi.cy, roi.size * 0.4, roi.rotation)
    _, presence, _ = tiled.checked_landmarks(img, tight)
    assert presence < tiled.min_presence
    _, presence, quality = tiled.checked_landmarks(img, tight, second_look=True)
    assert presence >= tiled.min_presence and quality == "refined"


@pytest.mark.parametrize("h,w,at", [(540, 960, (600, 200)), (960, 540, (100, 640)), (720, 960, (40, 30))])
def test_tiled_finds_a_face_of_5_percent_that_auto_misses(h, w, at):
    require_face_models()
    frame, (x, y, s) = small_face_frame(int(0.05 * max(h, w)), h, w, at)
    with EmotionRecognizer(EmotionRecognizerOptions(face_detector="auto", num_threads=1)) as auto:
        assert auto.predict(frame) == []
    with EmotionRecognizer(EmotionRecognizerOptions(face_detector="tiled", num_threads=1)) as rec:
        res = rec.predict(frame)
    assert len(res) == 1
    bx, by, bw, bh = res[0].box
    assert x <= bx + bw / 2 <= x + s and y <= by + bh / 2 <= y + s
    assert res[0].label == "happiness" and res[0].quality in ("good", "refined")
