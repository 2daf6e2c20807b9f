"""EmotionRecognizer in IMAGE mode: results, batching, input validation, options, lifecycle, threads."""
from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from lrdif.sdk import (LABELS_8, EmotionRecognizer, EmotionRecognizerOptions, EmotionResult, ModelLoadError,
                       RunningMode)
from test_sdk_support import ROOT, astronaut, fer_faces_frame, onnx_artifact, require_face_models


@pytest.fixture(scope="module")
def rec():
    require_face_models()
    r = EmotionRecognizer.create_from_options(EmotionRecognizerOptions(model_path=onnx_artifact(), num_threads=1))
    yield r
    r.close()


def _probs(results):
    return np.array([[r.probabilities[k] for k in LABELS_8] for r in results])


def test_astronaut_one_face(rec):
    res = rec.predict(astronaut())
    assert len(res) == 1
    r = res[0]
    assert isinstance(r, EmotionResult) and r.face_id is None
    assert list(r.probabilities) == list(LABELS_8)
    assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert r.label == max(r.probabilities, key=r.probabilities.get)
    assert r.confidence == pytest.approx(r.probabilities[r.label])
    x, y, w, h = r.box                       # the astronaut's face is around (180, 80, 95, 95)
    assert 150 < x + w / 2 < 260 and 90 < y + h / 2 < 170 and 60 < w < 150
    assert r.landmarks.shape == (468, 3) and r.score > 0.5 and r.presence > 0.5
    assert r.to_dict()["label"] == r.label


def test_blank_frames_give_no_result(rec):
    assert rec.predict(np.zeros((240, 320, 3), np.uint8)) == []
    assert rec.predict(np.full((100, 100, 3), 255, np.uint8)) == []
    assert rec.predict(np.zeros((1, 1, 3), np.uint8)) == []


def test_multiple_faces_one_model_call(rec, monkeypatch):
    frame, tiles = fer_faces_frame()
    detected = rec._frontend.process(frame, max_faces=rec.options.max_faces)
    assert len(detected) >= 2, "the detector should find at least two of the pasted FERPlus faces"
    calls = []
    orig = rec._backend._run_batch
    monkeypatch.setattr(rec._backend, "_run_batch", lambda i, l: calls.append(i.shape[0]) or orig(i, l))
    res = rec.predict(frame)
    assert len(res) == len(detected)
    assert calls == [len(res)]                        # all faces of the frame in one runtime call
    np.testing.assert_allclose(_probs(res).sum(1), 1.0, atol=1e-5)
    # every result sits on a different pasted face
    hit = set()
    for r in res:
        cx, cy = r.box[0] + r.box[2] / 2, r.box[1] + r.box[3] / 2
        tile = [i for i, (x, y, w, h) in enumerate(tiles) if x <= cx <= x + w and y <= cy <= y + h]
        assert len(tile) == 1
        hit.add(tile[0])
    assert len(hit) == len(res)


def test_max_faces_limits_results():
    frame, _ = fer_faces_frame()
    with EmotionRecognizer(EmotionRecognizerOptions(model_path=onnx_artifact(), num_threads=1, max_faces=1)) as r:
        assert len(r.predict(frame)) == 1


# ---------------------------------------------------------------------------- frame formats
def test_frame_formats_agree(rec):
    img = astronaut()
    ref = _probs(rec.predict(img))
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    np.testing.assert_allclose(_probs(rec.predict(rgba)), ref, atol=1e-6)
    wide = np.zeros((512, 1024, 3), np.uint8)
    wide[:, ::2] = img
    view = wide[:, ::2]                                  # non-contiguous: copied, not refused
    assert not view.flags.c_contiguous
    np.testing.assert_allclose(_probs(rec.predict(view)), ref, atol=1e-6)
    fortran = np.asfortranarray(img)
    np.testing.assert_allclose(_probs(rec.predict(fortran)), ref, atol=1e-6)
    gray = img.mean(axis=2).astype(np.uint8)
    assert len(rec.predict(gray)) == 1 and len(rec.predict(gray[:, :, None])) == 1
    with EmotionRecognizer(EmotionRecognizerOptions(model_path=onnx_artifact(), num_threads=1, bgr=True)) as r:
        np.testing.assert_allclose(_probs(r.predict(img[:, :, ::-1].copy())), ref, atol=1e-6)


@pytest.mark.parametrize("frame, exc, message", [
    (None, TypeError, "is None"),
    ("image.png", TypeError, "must be a numpy.ndarray"),
    (np.zeros((64, 64, 3), np.float32), TypeError, r"float32.*astype\(np.uint8\)"),
    (np.zeros((64, 64, 3), np.float64), TypeError, "float64"),
    (np.zeros((64, 64, 3), np.uint16), TypeError, r"uint16.*>> 8"),
    (np.zeros((64, 64, 3), np.int32), TypeError, "int32"),
    (np.zeros((64, 64, 3), bool), TypeError, "bool"),
    (np.full((64, 64, 3), np.nan, np.float32), ValueError, "NaN"),
    (np.zeros((0, 0, 3), np.uint8), ValueError, "empty"),
    (np.zeros((0, 64), np.uint8), ValueError, "empty"),
    (np.zeros((64, 64, 2), np.uint8), ValueError, r"shape \(64, 64, 2\)"),
    (np.zeros((2, 64, 64, 3), np.uint8), ValueError, "shape"),
    (np.zeros((64,), np.uint8), ValueError, "shape"),
    (np.uint8(7), ValueError, "shape"),
])
def test_bad_frames(rec, frame, exc, message):
    with pytest.raises(exc, match=message):
        rec.predict(frame)


# ---------------------------------------------------------------------------- options / lifecycle
@pytest.mark.parametrize("kwargs, message", [
    (dict(running_mode=RunningMode.LIVE_STREAM), "needs a result_callback"),
    (dict(result_callback=lambda *a: None), "only for running_mode LIVE_STREAM"),
    (dict(backend="tensorrt"), "backend must be one of"),
    (dict(model_path="a.onnx", model_bytes=b"x"), "not both"),
    (dict(max_faces=0), "max_faces"),
    (dict(num_threads=0), "num_threads"),
    (dict(min_detection_confidence=1.5), "min_detection_confidence"),
    (dict(smoothing=1.0), "smoothing"),
    (dict(running_mode="cinema"), "running_mode"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EmotionRecognizerOptions(**kwargs)


def test_running_mode_from_string():
    assert EmotionRecognizerOptions(running_mode="video").running_mode is RunningMode.VIDEO


def test_wrong_mode_calls(rec):
    with pytest.raises(ValueError, match="running_mode VIDEO.*use predict"):
        rec.predict_for_video(astronaut(), 0)
    with pytest.raises(ValueError, match="LIVE_STREAM"):
        rec.predict_async(astronaut(), 0)


def test_model_bytes_and_bad_model(tmp_path):
    with EmotionRecognizer(EmotionRecognizerOptions(model_bytes=onnx_artifact().read_bytes(), num_threads=1)) as r:
        assert len(r.predict(astronaut())) == 1
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelLoadError, match="broken.onnx"):
        EmotionRecognizer.create_from_model_path(bad)


def test_default_model():
    from lrdif.sdk.models import MANIFEST

    if not MANIFEST.exists():
        with pytest.raises(FileNotFoundError, match="manifest"):
            EmotionRecognizer()
        pytest.skip(f"the shipped default model is not in the repo yet ({MANIFEST} missing)")
    with EmotionRecognizer() as r:
        res = r.predict(astronaut())
    assert len(res) == 1 and sum(res[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_close_is_idempotent_and_final():
    r = EmotionRecognizer(EmotionRecognizerOptions(model_path=onnx_artifact(), num_threads=1))
    with r as same:
        assert same is r
        assert len(r.predict(astronaut())) == 1
    r.close()
    r.close()
    with pytest.raises(RuntimeError, match="closed"):
        r.predict(astronaut())
    with pytest.raises(RuntimeError, match="closed"):
        with r:
            pass


def test_predict_from_several_threads(rec):
    img = astronaut()
    frame, _ = fer_faces_frame()
    ref_a, ref_b = _probs(rec.predict(img)), _probs(rec.predict(frame))
    errors, done = [], []

    def work(k):
        try:
            for i in range(4):
                a = (k + i) % 2 == 0
                got = _probs(rec.predict(img if a else frame))
                np.testing.assert_allclose(got, ref_a if a else ref_b, atol=1e-6)
            done.append(k)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(done) == [0, 1, 2, 3]


def test_sdk_never_imports_torch():
    code = ("import sys; import lrdif.sdk, lrdif.sdk.cli, lrdif.sdk.backends, lrdif.sdk.face;"
            "from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions;"
            "from lrdif.sdk.assets import sample_image;"
            f"r = EmotionRecognizer(EmotionRecognizerOptions(model_path={str(onnx_artifact())!r}, num_threads=1));"
            "assert len(r.predict(sample_image())) == 1;"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
