"""`EmotionRecognizer`: faces -> facial-expression probabilities, MediaPipe Tasks style.

    from lrdif.sdk import EmotionRecognizer
    with EmotionRecognizer() as rec:                    # shipped default model (lrdif-mobile.tflite)
        for r in rec.predict(rgb):                      # HxWx3 uint8 RGB
            print(r.box, r.label, r.confidence)

Running modes: IMAGE (`predict`), VIDEO (`predict_for_video(frame, timestamp_ms)`: faces tracked
from frame to frame, probabilities smoothed per track), LIVE_STREAM (`predict_async(frame,
timestamp_ms)`: a worker thread calls `result_callback(results, frame, timestamp_ms)`, and while it
is busy only the newest pending frame is kept; older ones are dropped and counted).

Pipeline per frame: `lrdif.sdk.face.FaceFrontEnd` (BlazeFace -> FaceMesh -> the model's crop, all
LiteRT) then one emotion-model call for all faces of the frame (`lrdif.sdk.backends`).
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lrdif.sdk.backends import BACKENDS, Backend, load_backend
from lrdif.sdk.face.frontend import iou_xywh
from lrdif.sdk.image import to_rgb_uint8
from lrdif.sdk.metadata import ModelMetadata
from lrdif.sdk.results import EmotionResult, RunningMode

__all__ = ["EmotionRecognizer", "EmotionRecognizerOptions", "EmotionResult", "RunningMode"]

log = logging.getLogger(__name__)

ResultCallback = Callable[[list[EmotionResult], np.ndarray, int], None]


@dataclass(frozen=True)
class EmotionRecognizerOptions:
    """Options of `EmotionRecognizer.create_from_options`.

    model_path / model_bytes: the emotion model (.onnx, .tflite, .pte, .mlpackage); both None =
        the shipped default named by `sdk/models/manifest.json` (today `lrdif-mobile.tflite`,
        LiteRT), sha256-checked against the manifest.
    backend: "auto" (by file type), "onnxruntime", "tflite", "executorch" (needs torch), "coreml" (macOS).
    num_threads: threads for every runtime (None = the runtimes' defaults; face models use 1).
    max_faces: most faces per frame. min_detection_confidence: face-detector score threshold.
    min_presence_confidence: FaceMesh face-presence threshold (also decides when a track is lost).
    running_mode: RunningMode.IMAGE | VIDEO | LIVE_STREAM.
    smoothing: video/live-stream EMA factor in [0, 1): smoothed = smoothing * previous +
        (1 - smoothing) * current, per tracked face; 0 disables smoothing.
    redetect_interval: in video/live-stream modes, run the face detector every this many frames
        to pick up new faces (also whenever a tracked face is lost or none is tracked).
    result_callback: f(results, frame, timestamp_ms); required for LIVE_STREAM, forbidden otherwise.
    bgr: frames are BGR(A) (as OpenCV reads them) instead of RGB(A).
    face_detector: "auto" (short range, plus full range when short range finds no face or only
        small ones), "short" (BlazeFace short range: selfie distance), "full" (full range, faces
        up to ~5 m) or "tiled" (every face from 5% of the frame's long side up: auto, then, unless
        it found only selfie-distance faces, a short-range detection pyramid whose candidates
        must be found again zoomed in; ~40 more detector calls on frames without a near face);
        see `lrdif.sdk.face.frontend` and `lrdif.sdk.face.tiling`.
    keep_uncertain_faces: also return faces whose landmarks never agreed with their box
        (`EmotionResult.quality == "uncertain"`); by default they are dropped.
    face_detector_path / face_detector_full_path / face_landmarker_path: override the cached
        MediaPipe face models (still sha256-checked); by default they come from the cache filled by
        `lrdif-setup`.
    """
    model_path: str | os.PathLike | None = None
    model_bytes: bytes | None = None
    backend: str = "auto"
    num_threads: int | None = None
    max_faces: int = 4
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    running_mode: RunningMode = RunningMode.IMAGE
    smoothing: float = 0.6
    redetect_interval: int = 10
    result_callback: ResultCallback | None = None
    bgr: bool = False
    face_detector_path: str | os.PathLike | None = None
    face_landmarker_path: str | os.PathLike | None = None
    face_detector: str = "auto"
    keep_uncertain_faces: bool = False
    face_detector_full_path: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        from lrdif.sdk.face.frontend import FACE_DETECTORS

        if self.face_detector not in FACE_DETECTORS:
            raise ValueError(f"face_detector must be one of {list(FACE_DETECTORS)}, got {self.face_detector!r}")
        if self.model_path is not None and self.model_bytes is not None:
            raise ValueError("give model_path or model_bytes, not both")
        if self.model_bytes is not None and not isinstance(self.model_bytes, (bytes, bytearray)):
            raise TypeError(f"model_bytes must be bytes, got {type(self.model_bytes).__name__}")
        if self.backend not in ("auto", *BACKENDS):
            raise ValueError(f"backend must be one of {['auto', *BACKENDS]}, got {self.backend!r}")
        if self.num_threads is not None and (isinstance(self.num_threads, bool)
                                             or not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise ValueError(f"num_threads must be a positive int or None, got {self.num_threads!r}")
        if isinstance(self.max_faces, bool) or not isinstance(self.max_faces, int) or self.max_faces < 1:
            raise ValueError(f"max_faces must be a positive int, got {self.max_faces!r}")
        for name in ("min_detection_confidence", "min_presence_confidence"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        if isinstance(self.running_mode, str):
            try:
                object.__setattr__(self, "running_mode", RunningMode(self.running_mode.lower()))
            except ValueError:
                raise ValueError(f"running_mode must be one of {[m.name for m in RunningMode]}, "
                                 f"got {self.running_mode!r}") from None
        if not isinstance(self.running_mode, RunningMode):
            raise TypeError(f"running_mode must be a RunningMode, got {self.running_mode!r}")
        if not isinstance(self.smoothing, (int, float)) or not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing!r}")
        if isinstance(self.redetect_interval, bool) or not isinstance(self.redetect_interval, int) \
                or self.redetect_interval < 1:
            raise ValueError(f"redetect_interval must be a positive int, got {self.redetect_interval!r}")
        if self.running_mode is RunningMode.LIVE_STREAM:
            if not callable(self.result_callback):
                raise ValueError("running_mode LIVE_STREAM needs a result_callback(results, frame, timestamp_ms)")
        elif self.result_callback is not None:
            raise ValueError(f"result_callback is only for running_mode LIVE_STREAM, not {self.running_mode.name}")


@dataclass
class _Track:
    face_id: int
    face: object                 # lrdif.sdk.face.Face of the last frame
    probs: np.ndarray | None     # smoothed probabilities


def _inside(point: np.ndarray, box: np.ndarray) -> bool:
    x, y, w, h = box
    return bool(x <= point[0] <= x + w and y <= point[1] <= y + h)


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])


class EmotionRecognizer:
    """Facial-expression recognizer. `EmotionRecognizer()` = the shipped default model, IMAGE mode.

    Thread safety: `predict` may be called from several threads (the face models and the emotion
    model each run under their own lock); the VIDEO/LIVE_STREAM tracking state is serialised.
    """

    def __init__(self, options: EmotionRecognizerOptions | None = None):
        opts = options if options is not None else EmotionRecognizerOptions()
        if not isinstance(opts, EmotionRecognizerOptions):
            raise TypeError(f"options must be EmotionRecognizerOptions, got {type(opts).__name__}")
        self._options = opts
        self._closed = True        # until fully constructed
        if opts.model_bytes is not None:
            model: str | os.PathLike | bytes = bytes(opts.model_bytes)
        elif opts.model_path is not None:
            model = opts.model_path
        else:
            from lrdif.sdk.models import default_model_path

            model = default_model_path()
        self._backend: Backend = load_backend(model, opts.backend, opts.num_threads)
        try:
            from lrdif.sdk.face import FaceFrontEnd

            self._frontend = FaceFrontEnd(
                crop_spec=self._backend.metadata.crop, num_threads=opts.num_threads or 1,
                min_detection_score=opts.min_detection_confidence,
                min_presence=opts.min_presence_confidence,
                detector_path=opts.face_detector_path, landmarker_path=opts.face_landmarker_path,
                detector_full_path=opts.face_detector_full_path, face_detector=opts.face_detector,
                download=False)
        except BaseException:
            self._backend.close()
            raise
        self._face_lock = threading.Lock()      # the LiteRT face models are not thread-safe
        self._state_lock = threading.Lock()     # video tracking state + timestamps
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frame_index = 0
        self._last_ts: int | None = None
        self._dropped = 0
        self._closed = False
        self._worker: threading.Thread | None = None
        if opts.running_mode is RunningMode.LIVE_STREAM:
            self._cv = threading.Condition()
            self._pending: tuple[np.ndarray, np.ndarray, int] | None = None
            self._stop = False
            self._worker = threading.Thread(target=self._worker_loop, name="lrdif-live-stream", daemon=True)
            self._worker.start()

    # ------------------------------------------------------------------ construction
    @classmethod
    def create_from_options(cls, options: EmotionRecognizerOptions) -> "EmotionRecognizer":
        return cls(options)

    @classmethod
    def create_from_model_path(cls, model_path: str | os.PathLike) -> "EmotionRecognizer":
        return cls(EmotionRecognizerOptions(model_path=model_path))

    # ------------------------------------------------------------------ properties
    @property
    def options(self) -> EmotionRecognizerOptions:
        return self._options

    @property
    def metadata(self) -> ModelMetadata:
        return self._backend.metadata

    @property
    def labels(self) -> tuple[str, ...]:
        return self._backend.metadata.labels

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def dropped_frames(self) -> int:
        """LIVE_STREAM: frames replaced by a newer one before the worker got to them."""
        return self._dropped

    # ------------------------------------------------------------------ running modes
    def predict(self, frame: np.ndarray) -> list[EmotionResult]:
        """IMAGE mode: every face in a still frame (best detection first); [] when there is none."""
        self._check(RunningMode.IMAGE, "predict(frame)")
        rgb = to_rgb_uint8(frame, bgr=self._options.bgr)
        with self._face_lock:
            self._check_open()
            faces = self._keep(self._frontend.process(rgb, max_faces=self._options.max_faces))
        probs = self._classify(faces)
        return [self._result(f, p, None) for f, p in zip(faces, probs)]

    def predict_for_video(self, frame: np.ndarray, timestamp_ms: int) -> list[EmotionResult]:
        """VIDEO mode: faces tracked across frames (stable `face_id`), probabilities smoothed per
        track. `timestamp_ms` must increase strictly from call to call."""
        self._check(RunningMode.VIDEO, "predict_for_video(frame, timestamp_ms)")
        rgb = to_rgb_uint8(frame, bgr=self._options.bgr)
        with self._state_lock:
            self._check_timestamp(timestamp_ms)
            return self._video_step(rgb)

    def predict_async(self, frame: np.ndarray, timestamp_ms: int) -> None:
        """LIVE_STREAM mode: queue a frame; `result_callback(results, frame, timestamp_ms)` is
        called on the worker thread. If the worker is busy, only the newest pending frame is kept
        (the replaced one is dropped and counted in `dropped_frames`). The frame is copied."""
        self._check(RunningMode.LIVE_STREAM, "predict_async(frame, timestamp_ms)")
        rgb = to_rgb_uint8(frame, bgr=self._options.bgr)
        original = np.array(frame, copy=True)          # the caller may reuse its buffer
        if np.may_share_memory(rgb, frame):
            rgb = to_rgb_uint8(original, bgr=self._options.bgr)
        with self._cv:
            self._check_open()
            self._check_timestamp(timestamp_ms)
            if self._pending is not None:
                self._dropped += 1
            self._pending = (original, rgb, int(timestamp_ms))
            self._cv.notify()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the runtimes. Idempotent. In LIVE_STREAM mode the frame being processed and the
        pending one are finished (callbacks delivered) first. Any later call raises RuntimeError."""
        if self._closed:
            return
        worker = self._worker
        if worker is not None:
            with self._cv:
                self._stop = True
                self._cv.notify_all()
            if worker is not threading.current_thread():
                worker.join()
        with self._face_lock, self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._frontend = None
            self._tracks = []
        self._backend.close()

    def __enter__(self) -> "EmotionRecognizer":
        self._check_open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; never raise from a finaliser
        try:
            if not getattr(self, "_closed", True) and getattr(self, "_worker", None) is None:
                self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this EmotionRecognizer is closed; create a new one")

    def _check(self, mode: RunningMode, call: str) -> None:
        self._check_open()
        have = self._options.running_mode
        if have is not mode:
            use = {RunningMode.IMAGE: "predict(frame)",
                   RunningMode.VIDEO: "predict_for_video(frame, timestamp_ms)",
                   RunningMode.LIVE_STREAM: "predict_async(frame, timestamp_ms)"}[have]
            raise ValueError(f"{call} needs running_mode {mode.name}, but this recognizer was "
                             f"created with running_mode {have.name}: use {use}")

    def _check_timestamp(self, ts: object) -> None:
        if isinstance(ts, bool) or not isinstance(ts, (int, np.integer)):
            raise TypeError(f"timestamp_ms must be an int (milliseconds), got {type(ts).__name__}")
        if self._last_ts is not None and ts <= self._last_ts:
            raise ValueError(f"timestamp_ms must increase monotonically: got {int(ts)} after "
                             f"{self._last_ts}")
        self._last_ts = int(ts)

    def _keep(self, faces: list) -> list:
        """Drop faces whose crop could not be confirmed (quality "uncertain") unless asked to keep them."""
        if self._options.keep_uncertain_faces:
            return faces
        return [f for f in faces if f.quality != "uncertain"]

    def _classify(self, faces: list) -> np.ndarray:
        """One emotion-model call for all faces of the frame -> (N, K) probabilities."""
        if not faces:
            return np.zeros((0, len(self.labels)), np.float32)
        crops = np.stack([f.crop for f in faces])
        landmarks = np.stack([f.crop_landmarks for f in faces]).astype(np.float32)
        probs, _ = self._backend.run(crops, landmarks)
        return probs

    def _result(self, face, probs: np.ndarray, face_id: int | None) -> EmotionResult:
        labels = self.labels
        k = int(np.argmax(probs))
        x, y, w, h = (float(v) for v in face.box)
        return EmotionResult(
            box=(x, y, w, h), score=float(face.score), landmarks=np.asarray(face.landmarks),
            probabilities={lab: float(p) for lab, p in zip(labels, probs)}, label=labels[k],
            confidence=float(probs[k]), presence=float(face.presence), face_id=face_id,
            quality=face.quality)

    def _video_step(self, rgb: np.ndarray) -> list[EmotionResult]:
        """Track faces from the previous landmarks; re-detect when a track is lost, when none is
        tracked, or every `redetect_interval` frames (new faces get new ids; a detection where a
        track was just lost takes over that track's id). Caller holds _state_lock."""
        opts = self._options
        with self._face_lock:
            self._check_open()
            fe = self._frontend
            kept: list[_Track] = []
            lost: list[_Track] = []
            for t in self._tracks:
                face = fe.track(rgb, t.face)
                if face is None or not self._keep([face]):      # lost, or its crop is uncertain
                    lost.append(t)
                    continue
                # two tracks that converged on one face: keep the older
                if any(iou_xywh(face.box, k.face.box) > 0.5 for k in kept):
                    continue
                t.face = face
                kept.append(t)
            periodic = self._frame_index % opts.redetect_interval == 0
            if len(kept) < opts.max_faces and (lost or not kept or periodic):
                for face in self._keep(fe.process(rgb, max_faces=opts.max_faces)):
                    if len(kept) >= opts.max_faces:
                        break
                    c = _centre(face.box)
                    if any(_inside(c, t.face.box) for t in kept):
                        continue                          # already tracked
                    again = next((t for t in lost if _inside(c, t.face.box)), None)
                    if again is not None:
                        lost.remove(again)
                        again.face = face
                        kept.append(again)
                    else:
                        kept.append(_Track(self._next_id, face, None))
                        self._next_id += 1
        self._frame_index += 1
        self._tracks = kept
        probs = self._classify([t.face for t in kept])
        a = opts.smoothing
        out = []
        for t, p in zip(kept, probs):
            if t.probs is not None and a > 0:
                p = a * t.probs + (1.0 - a) * p
                p = p / p.sum()
            t.probs = p
            out.append(self._result(t.face, p, t.face_id))
        return out

    def _worker_loop(self) -> None:
        cb = self._options.result_callback
        while True:
            with self._cv:
                while self._pending is None and not self._stop:
                    self._cv.wait()
                if self._pending is None:        # stopping and nothing left
                    return
                original, rgb, ts = self._pending
                self._pending = None
            try:
                with self._state_lock:
                    results = self._video_step(rgb)
            except Exception:
                log.exception("lrdif live stream: processing the frame at %d ms failed", ts)
                continue
            try:
                cb(results, original, ts)
            except Exception:
                log.exception("lrdif live stream: result_callback raised for the frame at %d ms", ts)
