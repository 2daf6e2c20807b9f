"""Face model assets: sha256 pins, cache lookup, tampering; the sample photo. Never downloads."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from lrdif.sdk import assets
from lrdif.sdk.assets import (FACE_MODELS, AssetError, AssetIntegrityError, face_model_paths, sample_image,
                              sha256_file, verify_file)


@pytest.fixture(scope="module")
def real_paths():
    try:
        return face_model_paths(download=False, keys=tuple(FACE_MODELS))
    except AssetError as e:
        pytest.fail(f"face models are not in the lrdif cache; run `lrdif-setup` before the tests ({e})")


def test_cached_models_verify(real_paths):
    assert set(real_paths) == {"detector", "detector_full", "landmarker"}
    assert set(face_model_paths(download=False)) == {"detector", "landmarker"}   # the default keys
    for k, p in real_paths.items():
        a = FACE_MODELS[k]
        assert p.name == a.filename and p.stat().st_size == a.size
        assert sha256_file(p) == a.sha256
        assert a.url.startswith("https://storage.googleapis.com/mediapipe-assets/")


def test_explicit_paths(real_paths, tmp_path):
    d = tmp_path / "m.tflite"
    shutil.copyfile(real_paths["detector"], d)
    out = face_model_paths(download=False, detector=d, landmarker=real_paths["landmarker"])
    assert out["detector"] == d
    with pytest.raises(AssetIntegrityError, match="sha256"):
        face_model_paths(download=False, detector=real_paths["landmarker"], landmarker=real_paths["landmarker"])


def test_tampered_cached_model_fails_sha256(real_paths, tmp_path, monkeypatch):
    monkeypatch.setenv("LRDIF_CACHE_DIR", str(tmp_path))
    dest = tmp_path / "face_models"
    dest.mkdir()
    for p in real_paths.values():
        shutil.copyfile(p, dest / p.name)
    assert face_model_paths(download=False)["landmarker"].parent == dest
    lm = dest / FACE_MODELS["landmarker"].filename
    data = bytearray(lm.read_bytes())
    data[1000] ^= 0xFF
    lm.write_bytes(bytes(data))
    with pytest.raises(AssetIntegrityError, match=r"landmarker.*sha256.*lrdif-setup"):
        face_model_paths(download=False)
    with pytest.raises(AssetIntegrityError):
        verify_file(lm, FACE_MODELS["landmarker"])
    # the front-end refuses it too
    from lrdif.sdk.face import FaceFrontEnd
    with pytest.raises(AssetIntegrityError):
        FaceFrontEnd()


def test_full_range_model_lookup(real_paths, tmp_path, monkeypatch):
    """The full-range detector is fetched like the others; explicit paths are still sha256-checked,
    a cache without it says to run lrdif-setup, an unknown key is refused."""
    out = face_model_paths(download=False, detector_full=real_paths["detector_full"])
    assert out["detector_full"] == real_paths["detector_full"]
    with pytest.raises(AssetIntegrityError, match="detector_full"):
        face_model_paths(download=False, detector_full=real_paths["detector"])
    with pytest.raises(ValueError, match="unknown face model"):
        face_model_paths(download=False, keys=("detector", "mystery"))
    monkeypatch.setenv("LRDIF_CACHE_DIR", str(tmp_path))
    (tmp_path / "face_models").mkdir()
    for k in ("detector", "landmarker"):
        shutil.copyfile(real_paths[k], tmp_path / "face_models" / real_paths[k].name)
    assert set(face_model_paths(download=False)) == {"detector", "landmarker"}
    with pytest.raises(AssetError, match=r"face_detection_full_range_sparse.*lrdif-setup"):
        face_model_paths(download=False, keys=("detector_full",))
    from lrdif.sdk.face import FaceFrontEnd
    FaceFrontEnd(face_detector="short")                        # short range needs no full-range model
    with pytest.raises(AssetError, match="lrdif-setup"):
        FaceFrontEnd(face_detector="auto")


def test_missing_model_says_run_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDIF_CACHE_DIR", str(tmp_path))
    with pytest.raises(AssetError, match="lrdif-setup"):
        face_model_paths(download=False)
    assert assets.face_models_dir() == tmp_path / "face_models"


def test_atomic_write(tmp_path):
    p = tmp_path / "sub" / "x.bin"
    assets.atomic_write_bytes(p, b"abc")
    assert p.read_bytes() == b"abc"
    assert [q.name for q in p.parent.iterdir()] == ["x.bin"]


def test_sample_image():
    img = sample_image()
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8 and img.flags.c_contiguous


def test_setup_main_with_populated_cache(real_paths, capsys):
    # the cache verifies, so lrdif-setup only prints (nothing is fetched)
    assert assets.main([]) == 0
    out = capsys.readouterr().out
    for k, a in FACE_MODELS.items():
        assert a.sha256 in out and str(real_paths[k]) in out
