"""Per-dataset landmark cache (lrdif.training.landmarks) on the tiny real FERPlus file."""
from __future__ import annotations

import numpy as np
import pytest

from lrdif.sdk.assets import AssetError, face_model_paths
from lrdif.sdk.face import FaceFrontEnd, TightCropStrategy
from lrdif.sdk.metadata import CropSpec
from lrdif.training.landmarks import apply_affine_crops, compute_landmark_cache


@pytest.fixture(scope="module", autouse=True)
def _models():
    try:
        face_model_paths(download=False)
    except AssetError as e:
        pytest.fail(f"face models are not in the lrdif cache; run `lrdif-setup` before the tests ({e})")


@pytest.fixture(scope="module")
def tiny_images(tiny_npz):
    return np.load(tiny_npz)["images"]


def test_cache_round_trip(tiny_images, tmp_path):
    c = compute_landmark_cache(tiny_images, cache_dir=tmp_path, progress=False)
    n = len(tiny_images)
    assert not c.from_cache and c.path is not None and c.path.exists() and c.path.parent == tmp_path
    assert c.affine.shape == (n, 2, 3) and c.affine.dtype == np.float32
    assert c.landmarks.shape == (n, 468, 2) and c.landmarks.dtype == np.float32
    assert c.found.shape == (n,) and c.found.dtype == bool
    assert c.score.shape == (n,) and c.presence.shape == (n,)
    assert c.report["n"] == n and c.report["found"] + c.report["fallback"] == n
    assert c.found.sum() >= 60                      # measured: 64/64
    assert c.reliable.sum() >= 56 and not (c.reliable & ~c.found).any()
    assert np.all(c.score[c.found] >= 0.5)
    assert np.all((c.landmarks >= 0) & (c.landmarks <= 1))
    # eyes level in the crop
    d = c.landmarks[:, 263] - c.landmarks[:, 33]
    assert np.abs(d[:, 1]).max() < 1e-3 and d[:, 0].min() > 0.15
    # second call hits the cache and returns the same arrays
    c2 = compute_landmark_cache(tiny_images, cache_dir=tmp_path, progress=False)
    assert c2.from_cache and c2.path == c.path and c2.report == c.report
    for k in ("affine", "landmarks", "found", "score", "presence"):
        np.testing.assert_array_equal(getattr(c2, k), getattr(c, k))
    # a different spec or different images is a different cache entry
    c3 = compute_landmark_cache(tiny_images[:8], cache_dir=tmp_path, progress=False, spec=CropSpec(size=32))
    assert not c3.from_cache and c3.path != c.path and c3.affine.shape == (8, 2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([c.path.name, c3.path.name])  # no temp files left
    # a subset of a cached dataset (a split, a class filter) is served from the cached rows
    sub = np.ascontiguousarray(tiny_images[[10, 3, 40, 41, 63]])
    c4 = compute_landmark_cache(sub, cache_dir=tmp_path, progress=False)
    assert c4.from_cache and c4.report["reused"] == 5 and c4.report["computed"] == 0
    np.testing.assert_array_equal(c4.affine, c.affine[[10, 3, 40, 41, 63]])
    np.testing.assert_array_equal(c4.landmarks, c.landmarks[[10, 3, 40, 41, 63]])
    assert len(list(tmp_path.iterdir())) == 2  # not stored twice
    # partly new images: only those are computed
    mixed = np.concatenate([sub, np.full((1, 48, 48), 128, np.uint8)])
    c5 = compute_landmark_cache(mixed, cache_dir=tmp_path, progress=False)
    assert c5.report["reused"] == 5 and c5.report["computed"] == 1 and not c5.found[5]


def test_crops_and_landmarks_agree(tiny_images, tmp_path):
    c = compute_landmark_cache(tiny_images, cache_dir=tmp_path, progress=False)
    crops = apply_affine_crops(tiny_images, c.affine, c.spec.size)
    assert crops.shape == (len(tiny_images), 64, 64, 3) and crops.dtype == np.uint8
    assert np.array_equal(crops, c.crops(tiny_images))
    # default framing reproduces FER2013's: the crop looks like the resized original on average
    import cv2
    ref = np.stack([cv2.resize(g, (64, 64), interpolation=cv2.INTER_LINEAR) for g in tiny_images]).astype(np.float32)
    assert abs(crops[..., 0].astype(np.float32).mean() - ref.mean()) < 10
    # colour input gives the same result as grey
    rgb = np.repeat(tiny_images[:4, ..., None], 3, axis=3)
    c_rgb = compute_landmark_cache(rgb, cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(c_rgb.affine, c.affine[:4], atol=1e-4)


def test_fallback_on_blank_images(tmp_path):
    imgs = np.full((3, 48, 48), 128, np.uint8)
    c = compute_landmark_cache(imgs, cache_dir=tmp_path, progress=False)
    assert not c.found.any() and c.report["fallback"] == 3 and c.report["found"] == 0
    assert np.all(c.score == 0)
    assert np.all(np.isfinite(c.affine)) and np.all((c.landmarks >= 0) & (c.landmarks <= 1))


@pytest.mark.parametrize("bad, exc", [
    (None, TypeError),
    ([[0]], TypeError),
    (np.zeros((2, 48, 48), np.float32), TypeError),
    (np.zeros((2, 48), np.uint8), ValueError),
    (np.zeros((2, 48, 48, 4), np.uint8), ValueError),
    (np.zeros((0, 48, 48), np.uint8), ValueError),
])
def test_bad_images_raise(bad, exc, tmp_path):
    with pytest.raises(exc, match="images"):
        compute_landmark_cache(bad, cache_dir=tmp_path, progress=False)


def test_apply_affine_crops_bad_affine(tiny_images):
    with pytest.raises(ValueError, match="affine"):
        apply_affine_crops(tiny_images[:2], np.zeros((3, 2, 3)), 64)


def test_training_crops_equal_runtime_crops(tiny_images, tmp_path):
    """Issue #15: the cache is the SDK's FaceFrontEnd with its tight-face-crop option, so the
    training crop of an image is the runtime crop of that image (same affine, landmarks, pixels);
    and the default runtime pipeline on the same face upscaled into a larger frame lands on the same
    face framing."""
    import cv2

    idx = [0, 5, 9, 35]
    images = np.ascontiguousarray(tiny_images[idx])
    c = compute_landmark_cache(images, cache_dir=tmp_path, progress=False)
    crops = c.crops(images)
    fe = FaceFrontEnd(face_detector="short", tight_crop=TightCropStrategy())
    runtime = FaceFrontEnd()                                # the default pipeline (auto detector)
    for j, img in enumerate(images):
        rgb = np.repeat(img[..., None], 3, 2)
        (face,) = fe.process(rgb)
        np.testing.assert_array_equal(face.affine, c.affine[j])
        np.testing.assert_array_equal(face.crop_landmarks, c.landmarks[j])
        assert np.abs(face.crop.astype(int) - crops[j].astype(int)).max() <= 1   # float32-stored affine
        assert face.source == ("canvas" if c.found[j] else "fallback") and face.score == pytest.approx(c.score[j])
        # the same face at 4x in a grey frame, through the ordinary (non-tight) path
        frame = np.full((240, 320, 3), 128, np.uint8)
        frame[24:216, 64:256] = cv2.resize(rgb, (192, 192), interpolation=cv2.INTER_CUBIC)
        (big,) = runtime.process(frame)
        err = np.abs(big.crop_landmarks - c.landmarks[j]).mean()
        assert err < 0.02, f"image {idx[j]}: runtime crop landmarks {err:.4f} (crop fraction) from the cache's"
