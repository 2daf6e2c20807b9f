"""EmotionRecognizer VIDEO and LIVE_STREAM modes: tracking, smoothing, timestamps, callbacks, dropping."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lrdif.sdk import LABELS_8, EmotionRecognizer, EmotionRecognizerOptions, RunningMode
from test_sdk_support import astronaut, fer_faces_frame, onnx_artifact, require_face_models, shifted


def _video(**kw) -> EmotionRecognizer:
    require_face_models()
    return EmotionRecognizer(EmotionRecognizerOptions(model_path=onnx_artifact(), num_threads=1,
                                                      running_mode=RunningMode.VIDEO, **kw))


def _vec(r) -> np.ndarray:
    return np.array([r.probabilities[k] for k in LABELS_8])


def _count_calls(monkeypatch, obj, name):
    calls = []
    orig = getattr(obj, name)

    def spy(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    monkeypatch.setattr(obj, name, spy)
    return calls


def test_tracking_keeps_id_on_a_moving_face(monkeypatch):
    img = astronaut()
    with _video(redetect_interval=10) as rec:
        detect = _count_calls(monkeypatch, rec._frontend, "process")
        track = _count_calls(monkeypatch, rec._frontend, "track")
        centres, ids = [], []
        for i in range(10):
            res = rec.predict_for_video(shifted(img, dx=6 * i, dy=2 * i), timestamp_ms=i * 33)
            assert len(res) == 1
            ids.append(res[0].face_id)
            x, y, w, h = res[0].box
            centres.append((x + w / 2, y + h / 2))
            assert sum(res[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert ids == [ids[0]] * 10 and ids[0] is not None
    assert len(detect) == 1 and len(track) == 9          # landmarks from the previous frame as ROI
    dx = centres[-1][0] - centres[0][0]
    assert 40 < dx < 68                                   # moved 54 px to the right


def test_redetects_periodically_and_after_loss(monkeypatch):
    img = astronaut()
    blank = np.zeros_like(shifted(img, 0))
    with _video(redetect_interval=3) as rec:
        detect = _count_calls(monkeypatch, rec._frontend, "process")
        for i in range(7):
            assert len(rec.predict_for_video(shifted(img, i), i * 10)) == 1
        assert len(detect) == 3                          # frames 0, 3 and 6
        first = rec.predict_for_video(shifted(img, 8), 80)[0].face_id
        assert rec.predict_for_video(blank, 90) == []     # lost -> re-detect finds nothing
        again = rec.predict_for_video(shifted(img, 8), 100)
        assert len(again) == 1 and again[0].face_id != first


def test_several_faces_keep_distinct_ids():
    frame, _ = fer_faces_frame()
    with _video() as rec:
        first = rec.predict_for_video(frame, 0)
        assert len(first) >= 2
        by_pos = {r.face_id: r.box[0] for r in first}
        assert len(by_pos) == len(first)
        for i in range(1, 6):
            res = rec.predict_for_video(shifted(frame, dx=4 * i, pad=32), i * 40)
            assert {r.face_id for r in res} == set(by_pos)
            for r in res:                                # each id stays on its own face
                assert abs(r.box[0] - 32 - 4 * i - by_pos[r.face_id]) < 30


def _jitter(smoothing: float) -> float:
    img = shifted(astronaut(), 0)
    dark = (img * 0.45).astype(np.uint8)
    with _video(smoothing=smoothing) as rec:
        seq = [_vec(rec.predict_for_video(img if i % 2 == 0 else dark, i * 33)[0]) for i in range(12)]
    d = np.abs(np.diff(np.array(seq), axis=0)).sum(1)
    return float(d[4:].mean())                           # after the EMA has settled


def test_smoothing_reduces_jitter():
    raw, smooth = _jitter(0.0), _jitter(0.6)
    assert raw > 1e-4, "the test frames should give different raw probabilities"
    assert smooth < 0.5 * raw


def test_timestamps_must_increase():
    img = astronaut()
    with _video() as rec:
        rec.predict_for_video(img, 100)
        with pytest.raises(ValueError, match="increase monotonically: got 100 after 100"):
            rec.predict_for_video(img, 100)
        with pytest.raises(ValueError, match="got 50 after 100"):
            rec.predict_for_video(img, 50)
        with pytest.raises(TypeError, match="timestamp_ms must be an int"):
            rec.predict_for_video(img, 150.5)
        assert len(rec.predict_for_video(img, 101)) == 1
        with pytest.raises(ValueError, match="use predict_for_video"):
            rec.predict(img)


# ---------------------------------------------------------------------------- live stream
class _Sink:
    def __init__(self, delay: float = 0.0, fail_at: int | None = None):
        self.items: list[tuple[list, np.ndarray, int]] = []
        self.delay, self.fail_at = delay, fail_at
        self.event = threading.Event()

    def __call__(self, results, frame, timestamp_ms):
        if self.delay:
            time.sleep(self.delay)
        self.items.append((results, frame, timestamp_ms))
        self.event.set()
        if timestamp_ms == self.fail_at:
            raise RuntimeError("callback failure (expected by the test)")


def _live(sink, **kw) -> EmotionRecognizer:
    require_face_models()
    return EmotionRecognizer(EmotionRecognizerOptions(model_path=onnx_artifact(), num_threads=1,
                                                      running_mode=RunningMode.LIVE_STREAM,
                                                      result_callback=sink, **kw))


def test_live_stream_delivers_every_frame_when_idle():
    sink = _Sink(fail_at=20)                  # a raising callback must not stop the worker
    img = astronaut()
    with _live(sink) as rec:
        for i in range(5):
            sink.event.clear()
            frame = img.copy()
            rec.predict_async(frame, i * 10)
            frame[:] = 0                      # the recognizer took its own copy
            assert sink.event.wait(60)
        assert rec.dropped_frames == 0
    assert [ts for _, _, ts in sink.items] == [0, 10, 20, 30, 40]
    for results, frame, _ in sink.items:
        assert len(results) == 1 and np.array_equal(frame, img)
    assert len({r[0].face_id for r, _, _ in sink.items}) == 1     # tracked like video


def test_live_stream_drops_frames_under_load():
    sink = _Sink(delay=0.15)
    img = astronaut()
    n = 12
    rec = _live(sink)
    for i in range(n):
        rec.predict_async(img, i * 5)
        with pytest.raises(ValueError, match="monotonically"):
            rec.predict_async(img, i * 5)
    rec.close()                               # finishes the frame in flight and the pending one
    delivered = [ts for _, _, ts in sink.items]
    assert rec.dropped_frames >= 1
    assert len(delivered) + rec.dropped_frames == n
    assert delivered == sorted(delivered) and delivered[-1] == (n - 1) * 5   # newest frame kept
    with pytest.raises(RuntimeError, match="closed"):
        rec.predict_async(img, 10_000)
    rec.close()


def test_live_stream_rejects_bad_frames_in_the_caller():
    sink = _Sink()
    with _live(sink) as rec:
        with pytest.raises(TypeError, match="float32"):
            rec.predict_async(np.zeros((8, 8, 3), np.float32), 0)
        with pytest.raises(TypeError, match="is None"):
            rec.predict_async(None, 1)
    assert sink.items == []
