"""VIDEO / LIVE_STREAM edge cases (issue #16 reliability suite): ids of lost tracks never come
back, converging tracks collapse to one, max_faces holds in video mode, close() from inside the
result callback, concurrent predict_for_video, non-increasing timestamps leave the state intact.
Shipped default model (no torch)."""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions, RunningMode
from test_sdk_support import astronaut, fer_faces_frame, require_face_models, shifted


def _video(**kw) -> EmotionRecognizer:
    require_face_models()
    return EmotionRecognizer(EmotionRecognizerOptions(num_threads=1, running_mode=RunningMode.VIDEO, **kw))


def test_lost_track_ids_are_never_reused():
    img, blank = astronaut(), np.zeros((512, 512, 3), np.uint8)
    seen = []
    with _video(redetect_interval=50) as rec:
        ts = 0
        for cycle in range(3):
            for k in range(2):                                # present for two frames (tracked) ...
                ts += 33
                res = rec.predict_for_video(shifted(img, 4 * k + cycle), ts)
                assert len(res) == 1
                if k == 0:
                    seen.append(res[0].face_id)
                else:
                    assert res[0].face_id == seen[-1]         # ... keeps its id while tracked
            ts += 33
            assert rec.predict_for_video(blank, ts) == []     # ... then lost
    assert seen == sorted(set(seen)) and len(seen) == 3, f"ids {seen}: a lost id came back"


def test_converging_tracks_collapse_to_the_older():
    img = astronaut()
    with _video(redetect_interval=50) as rec:
        (first,) = rec.predict_for_video(img, 0)
        # a second track on the same face (as when two tracks converge onto one face)
        ghost = copy.copy(rec._tracks[0])
        ghost.face_id = 99
        rec._tracks.append(ghost)
        res = rec.predict_for_video(shifted(img, 2), 33)
        assert [r.face_id for r in res] == [first.face_id]
        assert len(rec._tracks) == 1


def test_max_faces_holds_in_video_mode():
    frame, _ = fer_faces_frame(indices=(5, 14, 23, 9), side=160)
    with _video(max_faces=2, redetect_interval=2) as rec:
        ids = set()
        for i in range(6):                                   # detection, tracking and re-detection frames
            res = rec.predict_for_video(shifted(frame, dx=2 * i, pad=16), i * 33)
            assert 1 <= len(res) <= 2
            ids |= {r.face_id for r in res}
        assert len(ids) <= 2, f"more than max_faces tracks over time: {ids}"


def test_close_from_inside_the_callback():
    require_face_models()
    done = threading.Event()
    errors = []
    holder = {}

    def cb(results, frame, ts):
        try:
            holder["rec"].close()                            # must neither deadlock nor raise
        except Exception as e:                               # pragma: no cover - reported below
            errors.append(e)
        done.set()

    rec = EmotionRecognizer(EmotionRecognizerOptions(num_threads=1, running_mode=RunningMode.LIVE_STREAM,
                                                     result_callback=cb))
    holder["rec"] = rec
    rec.predict_async(astronaut(), 0)
    assert done.wait(60), "callback never ran"
    rec._worker.join(30)
    assert not rec._worker.is_alive() and not errors
    with pytest.raises(RuntimeError, match="closed"):
        rec.predict_async(astronaut(), 33)
    rec.close()                                              # still idempotent


def test_concurrent_predict_for_video():
    """Several threads feeding one VIDEO recognizer: every call either succeeds or raises the
    documented ValueError for an out-of-order timestamp; the one face keeps one id throughout."""
    img = astronaut()
    clock = iter(range(1, 10_000))
    clock_lock = threading.Lock()
    ok, bad, other = [], [], []

    def worker():
        for _ in range(6):
            with clock_lock:
                ts = next(clock)
            try:
                ok.append(rec.predict_for_video(img, ts))
            except ValueError as e:
                bad.append(str(e))
            except Exception as e:                           # pragma: no cover - reported below
                other.append(e)

    with _video() as rec:
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not other, other
        assert len(ok) + len(bad) == 24 and len(ok) >= 1
        assert all("increase monotonically" in m for m in bad)
        assert {r.face_id for res in ok for r in res} == {0}
        assert len(rec.predict_for_video(img, 20_000)) == 1


def test_rejected_timestamps_leave_the_state_intact():
    img = astronaut()
    with _video() as rec:
        (a,) = rec.predict_for_video(img, 1000)
        tracks = [t.face_id for t in rec._tracks]
        for bad, exc in ((1000, ValueError), (999, ValueError), (-5, ValueError), (True, TypeError),
                         (1000.5, TypeError), ("1001", TypeError), (None, TypeError)):
            with pytest.raises(exc):
                rec.predict_for_video(img, bad)
        assert [t.face_id for t in rec._tracks] == tracks and rec._last_ts == 1000
        (b,) = rec.predict_for_video(img, 1001)
        assert b.face_id == a.face_id
        assert len(rec.predict_for_video(img, np.int64(1002))) == 1
