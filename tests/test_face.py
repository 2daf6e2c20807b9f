"""Face front-end (lrdif.sdk.face) against MediaPipe 0.10.21 golden fixtures, on real photos.

Models come from the cache that `lrdif-setup` fills (never downloaded here)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lrdif.sdk.assets import AssetError, face_model_paths, sample_image
from lrdif.sdk.face import (ANCHORS, FULL_RANGE, BlazeFaceDetector, Face, FaceFrontEnd, crop_landmarks,
                            emotion_crop_affine, roi_from_landmarks, ssd_anchors)
from lrdif.sdk.face.frontend import iou_xywh
from lrdif.sdk.metadata import CropSpec

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_mediapipe_golden import build_frame  # noqa: E402


@pytest.fixture(scope="module")
def fe() -> FaceFrontEnd:
    try:
        face_model_paths(download=False)
    except AssetError as e:
        pytest.fail(f"face models are not in the lrdif cache; run `lrdif-setup` before the tests ({e})")
    # MediaPipe's FaceMesh pipeline (the golden meshes) detects with short range
    return FaceFrontEnd(num_threads=1, face_detector="short")


@pytest.fixture(scope="module")
def full_detector() -> BlazeFaceDetector:
    return BlazeFaceDetector(options=FULL_RANGE)


@pytest.fixture(scope="module")
def golden():
    manifest = json.loads((GOLDEN / "mediapipe_0.10.21.json").read_text())
    with np.load(GOLDEN / "mediapipe_0.10.21.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return manifest, arrays


def load_frame(name: str, manifest) -> np.ndarray:
    if manifest["frames"][name]["stored_png"]:
        bgr = cv2.imread(str(GOLDEN / "frames" / f"{name}.png"), cv2.IMREAD_COLOR)
        assert bgr is not None, f"missing golden frame {name}.png"
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return build_frame(name)


def test_anchors():
    assert ANCHORS.shape == (896, 2)
    assert ssd_anchors().shape == (896, 2)
    assert ANCHORS.min() > 0 and ANCHORS.max() < 1
    # first layer: 16x16 grid, 2 anchors per cell; then 8x8, 6 per cell
    assert np.allclose(ANCHORS[0], [0.5 / 16, 0.5 / 16]) and np.allclose(ANCHORS[1], ANCHORS[0])
    assert np.allclose(ANCHORS[512], [0.5 / 8, 0.5 / 8])


def test_full_range_anchors():
    a = ssd_anchors(192, (4,), 0.5, interpolated_anchor=False)
    assert a.shape == (2304, 2) and FULL_RANGE.num_anchors == 2304
    # one 48x48 grid, one anchor per cell, row-major
    assert np.allclose(a[0], [0.5 / 48, 0.5 / 48]) and np.allclose(a[1], [1.5 / 48, 0.5 / 48])
    assert np.allclose(a[48], [0.5 / 48, 1.5 / 48]) and np.allclose(a[-1], [47.5 / 48, 47.5 / 48])


@pytest.mark.parametrize("name", ["astronaut", "astronaut_wide", "astronaut_tall", "blank", "astronaut_far",
                                  "astronaut_far_wide", "astronaut_portrait", "ferplus_multi3", "ferplus_multi4"])
def test_full_range_matches_mediapipe_golden(full_detector, golden, name):
    """Our full-range decoding (192x192 letterbox, stride-4 anchors, /192 box scale, min score 0.6,
    weighted NMS) against mp.solutions FaceDetection(model_selection=1) on the same frames."""
    manifest, g = golden
    frame = load_frame(name, manifest)
    dets = full_detector.detect(frame)
    gb, gs, gk = g[f"{name}/full_det_box"], g[f"{name}/full_det_score"], g[f"{name}/full_det_keypoints"]
    assert len(dets) == len(gs), f"{name}: {len(dets)} full-range detections, mediapipe {len(gs)}"
    for d in dets:
        j = int(np.argmin(np.abs(gb[:, :2] - d.box[:2]).sum(1)))
        assert abs(d.score - gs[j]) < 0.01 and d.source == "full"
        assert np.abs(d.box - gb[j]).max() < 1.0, f"{name}: box {d.box} vs mediapipe {gb[j]}"
        assert np.abs(d.keypoints - gk[j]).max() < 1.0


def test_far_faces_need_full_range(fe, golden):
    """Issue #16: the astronaut at 9% of a 1024x1024 frame / 5% of 1920x1080 / in a 9:16 frame:
    short range (and MediaPipe's) finds nothing, full range and auto find the face."""
    manifest, g = golden
    auto = FaceFrontEnd(num_threads=1, face_detector="auto")
    for name in ("astronaut_far", "astronaut_far_wide", "astronaut_portrait"):
        frame = load_frame(name, manifest)
        assert fe.process(frame) == [] and len(g[f"{name}/det_score"]) == 0
        faces = auto.process(frame, max_faces=4)
        assert len(faces) == 1 and faces[0].source == "full" and faces[0].quality in ("good", "refined"), name
        np.testing.assert_allclose(faces[0].box, g[f"{name}/full_det_box"][0], atol=1.0)


def test_astronaut_one_face(fe):
    img = sample_image()
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    faces = fe.process(img, max_faces=5)
    assert len(faces) == 1
    f = faces[0]
    assert isinstance(f, Face)
    assert f.score > 0.5 and f.presence > 0.5
    x, y, w, h = f.box
    lm = f.landmarks[:, :2]
    # landmarks inside the (slightly enlarged) detection box: the box is the face, landmarks reach the chin
    assert np.all(lm[:, 0] > x - 0.15 * w) and np.all(lm[:, 0] < x + 1.15 * w)
    assert np.all(lm[:, 1] > y - 0.15 * h) and np.all(lm[:, 1] < y + 1.25 * h)
    assert f.landmarks.shape == (468, 3) and f.keypoints.shape == (6, 2) and f.affine.shape == (2, 3)
    s = fe.crop_spec.size
    assert f.crop.shape == (s, s, 3) and f.crop.dtype == np.uint8
    assert f.crop_landmarks.shape == (468, 2)
    assert f.crop_landmarks.min() >= 0 and f.crop_landmarks.max() <= 1
    # eyes level in the crop
    d = f.crop_landmarks[263] - f.crop_landmarks[33]
    assert abs(d[1]) < 1e-4 and d[0] > 0.2


def test_blank_frame_no_face(fe):
    assert fe.process(np.full((480, 640, 3), 110, np.uint8)) == []
    assert fe.process(np.zeros((100, 100, 3), np.uint8)) == []


@pytest.mark.parametrize("name", ["astronaut", "astronaut_wide", "astronaut_tall", "blank", "ferplus_multi3",
                                  "ferplus_multi4"])
def test_matches_mediapipe_golden(fe, golden, name):
    manifest, g = golden
    frame = load_frame(name, manifest)
    dets = fe.detector.detect(frame)
    gb, gs, gk = g[f"{name}/det_box"], g[f"{name}/det_score"], g[f"{name}/det_keypoints"]
    assert len(dets) == len(gs), f"{name}: {len(dets)} detections, mediapipe {len(gs)}"
    for d in dets:
        j = int(np.argmin(np.abs(gb[:, :2] - d.box[:2]).sum(1)))
        assert abs(d.score - gs[j]) < 0.01
        assert np.abs(d.box - gb[j]).max() < 1.0          # px
        assert np.abs(d.keypoints - gk[j]).max() < 1.0
    faces = fe.process(frame, max_faces=10)
    gm = g[f"{name}/mesh"]
    assert len(faces) == len(gm)
    for f in faces:
        j = int(np.argmin([np.abs(m[:, :2].mean(0) - f.landmarks[:, :2].mean(0)).sum() for m in gm]))
        err = np.linalg.norm(f.landmarks[:, :2] - gm[j][:, :2], axis=1)
        assert err.mean() < 1.0, f"{name}: mean landmark error {err.mean():.3f} px"
        assert err.max() < 3.0
        assert np.abs(f.landmarks[:, 2] - gm[j][:, 2]).mean() < 1.0


def test_multi_face_count_and_order(fe, golden):
    manifest, _ = golden
    frame = load_frame("ferplus_multi4", manifest)
    faces = fe.process(frame, max_faces=10)
    assert len(faces) == 4
    scores = [f.score for f in faces]
    assert scores == sorted(scores, reverse=True)
    assert len(fe.process(frame, max_faces=2)) == 2
    # each face's landmarks sit on a pasted FERPlus face
    for f in faces:
        cx, cy = f.landmarks[:, :2].mean(0)
        assert any(x <= cx <= x + s and y <= cy <= y + s
                   for _, s, x, y in manifest["multi_recipes"]["ferplus_multi4"]["faces"])


def test_letterbox_wide_and_tall_frames(fe, golden):
    manifest, _ = golden
    ref = fe.process(sample_image())[0]
    for name, (ox, oy) in {"astronaut_wide": (250 - 125, 20 - 30), "astronaut_tall": (20 - 125, 260 - 30)}.items():
        frame = load_frame(name, manifest)
        faces = fe.process(frame)
        assert len(faces) == 1, name
        lm = faces[0].landmarks[:, :2]
        h, w = frame.shape[:2]
        assert lm[:, 0].min() > 0 and lm[:, 0].max() < w and lm[:, 1].min() > 0 and lm[:, 1].max() < h
        # same face as in the full astronaut photo, shifted by the paste offset (frame coordinates)
        err = np.linalg.norm(lm - (ref.landmarks[:, :2] + [ox, oy]), axis=1).mean()
        assert err < 2.5, f"{name}: {err:.2f} px from the shifted astronaut landmarks"


def test_tiny_ferplus_landmarks_inside_face(fe, tiny_npz):
    imgs = np.load(tiny_npz)["images"]
    assert imgs.shape == (64, 48, 48)
    inside = 0
    found = 0
    for g in imgs:
        rgb = cv2.resize(np.repeat(g[..., None], 3, 2), (128, 128), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(rgb, 43, 43, 43, 43, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        faces = fe.process(canvas)
        if not faces:
            continue
        found += 1
        lm = faces[0].landmarks[:, :2] - 43
        c = lm.mean(0)
        # the face centre lies in the middle of the tight FER crop and most points inside the crop
        if 0.25 * 128 < c[0] < 0.75 * 128 and 0.25 * 128 < c[1] < 0.8 * 128 and \
                np.mean((lm >= -8) & (lm <= 136)) > 0.95:
            inside += 1
    assert found >= 60, found
    assert inside >= 0.95 * found, (inside, found)


def test_emotion_crop_affine_geometry():
    rng = np.random.default_rng(0)
    lm = rng.uniform(100, 200, size=(468, 2))
    lm[33] = [120, 140]
    lm[263] = [180, 140]
    spec = CropSpec(size=64, scale=1.0, shift_y=0.0)
    a = emotion_crop_affine(lm, spec)
    c = crop_landmarks(lm, a, 64)
    # scale 1, no shift: the landmark bbox touches the crop border on its long side
    lo, hi = c.min(0), c.max(0)
    assert max(hi - lo) == pytest.approx(1.0, abs=1e-5)
    assert (lo + hi) / 2 == pytest.approx([0.5, 0.5], abs=1e-5)
    # rotating the face rotates the affine: crop landmarks are rotation invariant
    t = math.radians(25)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    lm2 = (lm - 150) @ rot.T + 300
    c2 = crop_landmarks(lm2, emotion_crop_affine(lm2, spec), 64)
    assert np.abs(c2 - c).max() < 1e-5
    # shift_y moves the face up in the crop when negative (centre moves up -> landmarks move down)
    c3 = crop_landmarks(lm, emotion_crop_affine(lm, CropSpec(size=64, scale=1.0, shift_y=-0.1)), 64)
    assert (c3[:, 1] - c[:, 1]).mean() == pytest.approx(0.1, abs=1e-5)


def test_crop_matches_warp_of_landmarks(fe):
    # the crop pixels and crop_landmarks agree: a landmark's crop position samples the frame at its position
    img = sample_image()
    f = fe.process(img)[0]
    s = fe.crop_spec.size
    for k in (1, 33, 263, 13, 152):
        u, v = f.crop_landmarks[k] * s - 0.5
        x, y = f.landmarks[k, :2] - 0.5
        a = f.affine.astype(np.float64)
        assert np.allclose(a @ [x, y, 1], [u, v], atol=1e-3)


def test_track_from_previous_landmarks(fe):
    img = sample_image()
    f0 = fe.process(img)[0]
    # next "frame": the photo shifted by 7, 5 px
    m = np.float32([[1, 0, 7], [0, 1, 5]])
    img2 = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    f1 = fe.track(img2, f0)
    assert f1 is not None and f1.presence > 0.5
    err = np.linalg.norm(f1.landmarks[:, :2] - (f0.landmarks[:, :2] + [7, 5]), axis=1).mean()
    assert err < 2.0
    roi = roi_from_landmarks(f0.landmarks)
    lm, pres = fe.landmarks_from_roi(img, roi)
    assert lm.shape == (468, 3) and pres > 0.5
    # tracking onto a blank frame loses the face
    assert fe.track(np.full((512, 512, 3), 110, np.uint8), f0) is None


@pytest.mark.parametrize("bad, exc", [
    (None, TypeError),
    ([[1, 2, 3]], TypeError),
    (np.zeros((64, 64, 3), np.float32), TypeError),
    (np.zeros((64, 64), np.uint8), ValueError),
    (np.zeros((64, 64, 4), np.uint8), ValueError),
    (np.zeros((0, 64, 3), np.uint8), ValueError),
    (np.zeros((2, 64, 64, 3), np.uint8), ValueError),
])
def test_bad_frames_raise(fe, bad, exc):
    with pytest.raises(exc) as e:
        fe.process(bad)
    assert "rgb" in str(e.value)


def test_bad_landmarks_and_spec_raise():
    with pytest.raises(TypeError):
        emotion_crop_affine(None)
    with pytest.raises(ValueError, match="468"):
        emotion_crop_affine(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        emotion_crop_affine(np.full((468, 2), np.nan))
    with pytest.raises(ValueError, match="rule"):
        emotion_crop_affine(np.random.rand(468, 2), CropSpec(rule="other"))


def test_bad_max_faces_and_previous_raise(fe):
    with pytest.raises(ValueError, match="max_faces"):
        fe.process(sample_image(), max_faces=0)
    with pytest.raises(TypeError, match="previous"):
        fe.track(sample_image(), previous=None)


def test_auto_keeps_selfie_frames_on_the_short_range_path(golden):
    """auto / tiled on a selfie-distance frame: one short-range call, no full-range call; auto gives
    the very faces of short range alone (what the golden vectors of the mobile cores rely on),
    tiled the same faces looked at once more (zoom check, settled landmarks), no window."""
    from lrdif.sdk.face import pyramid_windows

    manifest, _ = golden
    short = FaceFrontEnd(num_threads=1, face_detector="short")
    for mode in ("auto", "tiled"):
        fe = FaceFrontEnd(num_threads=1, face_detector=mode)
        calls = {"short": 0, "full": 0}
        for name, det in (("short", fe.detector), ("full", fe.detector_full)):
            raw = det.raw
            det.raw = lambda t, _raw=raw, _n=name: (calls.__setitem__(_n, calls[_n] + 1), _raw(t))[1]
        n_faces = 0
        for frame in (sample_image(), load_frame("ferplus_multi3", manifest)):
            a, b = fe.process(frame, max_faces=4), short.process(frame, max_faces=4)
            assert len(a) == len(b) >= 1
            n_faces += len(a)
            for x, y in zip(a, b):
                if mode == "auto":
                    assert np.array_equal(x.landmarks, y.landmarks)
                else:
                    assert iou_xywh(x.box, y.box) > 0.8 and np.abs(x.landmarks - y.landmarks)[:, :2].mean() < 2.0
        # tiled: at most one zoom check per face below tiling.verify_below of the long side
        assert calls["full"] == 0 and 2 <= calls["short"] <= (2 if mode == "auto" else 2 + n_faces), (mode, calls)
        before = dict(calls)
        # a frame without a face: full range (and, tiled, the pyramid and the whole frame at the
        # candidates' score) get their turn
        fe.process(np.full((480, 640, 3), 110, np.uint8))
        assert calls["full"] - before["full"] == 1, (mode, calls)
        windows = len(pyramid_windows(480, 640, fe.tiling))
        assert calls["short"] - before["short"] == (1 if mode == "auto" else 2 + windows), (mode, calls)


def test_tile_windows_cover_the_frame():
    from lrdif.sdk.face import tile_windows

    for h, w, side in ((720, 960, 528), (540, 960, 540), (960, 540, 528), (100, 100, 55), (50, 400, 300)):
        wins = tile_windows(h, w, side)
        s = wins[0][2]
        assert s == min(side, h, w) and all(ws == s for *_, ws in wins)
        cover = np.zeros((h, w), bool)
        for x, y, ws in wins:
            assert 0 <= x and x + ws <= w and 0 <= y and y + ws <= h
            cover[y:y + ws, x:x + ws] = True
        # every pixel covered, except at most the 5% margins a single centred window leaves
        assert cover[:, int(0.05 * w):w - int(0.05 * w)].all() or cover.all()


def test_tiled_finds_the_far_face(golden):
    manifest, g = golden
    fe = FaceFrontEnd(num_threads=1, face_detector="tiled")
    for name in ("astronaut_far", "astronaut_far_wide"):
        faces = fe.process(load_frame(name, manifest), max_faces=4)
        assert len(faces) == 1, name
        x, y, w, h = g[f"{name}/full_det_box"][0]
        cx, cy = faces[0].landmarks[:, :2].mean(0)
        assert x <= cx <= x + w and y <= cy <= y + h
