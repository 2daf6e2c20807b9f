"""Golden vectors: the SDK's whole pipeline on a few real frames, recorded call by call, for the
Kotlin (Android) and Swift (iOS) demo cores to replay.

    python -m lrdif.sdk.golden OUT_DIR                 # write index.json + one .bin per frame
    python -m lrdif.sdk.golden --frames-only OUT_DIR   # only frames/*.rgb (checked by sha256)

The committed copy lives in `android_demo/core/src/test/resources/golden/` (the Swift package reads
the same files). Frames are NOT committed (third-party photo, FERPlus faces): `frames/` is ignored
and rebuilt at test time by `--frames-only` from the registry package (scikit-image's astronaut)
and `../shared/data/ferplus/`, each checked against `frame_sha256` in the index.

Format "lrdif.golden/1" (all binary data little-endian, C order):

index.json
  schema, sdk_version, model_file (repo-relative path of the emotion model used), model_sha256,
  metadata (the model's ModelMetadata as a dict: labels, mean, std, colour_order, input_layout,
  crop {size, scale, shift_y}, temperature, ...),
  detector   {input_size 128, strides [8,16,16,16], anchor_offset 0.5, num_anchors 896,
              min_score, iou_threshold 0.3, score_clip 100, num_keypoints 6},
  landmarker {input_size 192, roi_scale 1.5, min_presence, num_landmarks 468},
  recognizer {max_faces, smoothing, redetect_interval},
  cases: [{name, mode "image"|"video", frames: [FRAME, ...]}]

FRAME
  name, file (the .bin holding this frame's tensors), width, height, timestamp_ms (video only),
  frame_file ("frames/NAME.rgb", raw HxWx3 uint8 RGB), frame_sha256 (of those raw bytes),
  frame_source (how it was built),
  calls: every runtime call the SDK made for this frame, in order:
    {"model": "detector",   "tensors": {"input":  TENSOR u8 (128,128,3) letterboxed frame (the float
                                                  input is u8 * 2/255 - 1),
                                        "regressors": TENSOR f32 (896,16), "logits": TENSOR f32 (896,)}}
    {"model": "landmarker", "roi": [cx, cy, size, rotation] (frame px, radians),
                            "tensors": {"input": TENSOR u8 (192,192,3) ROI crop (float input = u8/255),
                                        "landmarks": TENSOR f32 (468,3) crop px,
                                        "presence_logit": TENSOR f32 (1,)}}
    {"model": "emotion",    "tensors": {"crops": TENSOR u8 (N,S,S,3), "landmarks": TENSOR f32 (N,468,2),
                                        "image": TENSOR f32 model input (N,3,S,S) or (N,S,S,3),
                                        "logits": TENSOR f32 (N,K),
                                        "probabilities": TENSOR f32 (N,K) = softmax(logits / temperature)}}
  detections: TENSOR f32 (D,17) per detector call result after decoding, weighted NMS and letterbox
              removal: x, y, w, h, score, then 6 keypoints x, y (frame px); concatenated over the
              frame's detector calls (at most one per frame)
  faces: the frame's results, in output order (N faces):
    boxes f32 (N,4) x,y,w,h; landmarks f32 (N,468,3) frame px; presence f32 (N,);
    affines f32 (N,2,3) frame px index -> crop px index (cv2.warpAffine convention);
    crops u8 (N,S,S,3); crop_landmarks f32 (N,468,2); probabilities f32 (N,K) (smoothed per track in
    video mode); face_ids i32 (N,) (-1 in image mode); labels [str] (argmax of probabilities)

TENSOR = {"dtype": "uint8"|"int32"|"float32"|"float64", "shape": [...], "offset": int, "nbytes": int}
  offset and nbytes locate the data inside FRAME.file. A tensor with a 0 in its shape has nbytes 0.

Replaying: a core runs its own pipeline on the frame with a fake runtime that, for each call,
checks the core's input against the recorded `input` (pixels within 1 grey level) and returns the
recorded outputs; the core's detections, ROIs, landmarks, crops, probabilities and track ids must
then equal the recorded ones (floats within 1e-4).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrdif.sdk.fileio import atomic_write_bytes

SCHEMA = "lrdif.golden/1"
GREY = 110
REPO = Path(__file__).resolve().parents[1]
FERPLUS_TINY = REPO.parent / "shared" / "data" / "ferplus" / "ferplus_tiny64_48x48_uint8.npz"
# the committed copy (read by the Kotlin and Swift cores' tests)
COMMITTED_DIR = REPO / "android_demo" / "core" / "src" / "test" / "resources" / "golden"


# ----------------------------------------------------------------------------- frames

def resize_bilinear(img: np.ndarray, size: int) -> np.ndarray:
    """Pure-numpy bilinear resize of a square image (grey or RGB) to size x size (half-pixel
    centres), so the golden frames are bit-identical whatever OpenCV build is installed."""
    n = img.shape[0]
    c = (np.arange(size) + 0.5) * (n / size) - 0.5
    c = np.clip(c, 0, n - 1)
    i0 = np.floor(c).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    f = c - i0
    a = img.astype(np.float64)
    fr = f.reshape((-1,) + (1,) * (a.ndim - 1))
    rows = a[i0] * (1 - fr) + a[i1] * fr
    fc = f.reshape((1, -1) + (1,) * (a.ndim - 2))
    out = rows[:, i0] * (1 - fc) + rows[:, i1] * fc
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def paste_faces(h: int, w: int, faces: list[tuple[np.ndarray, int, int, int]]) -> np.ndarray:
    """A grey (110) RGB frame with grey faces (48x48 uint8) upscaled to `side` at (x, y)."""
    frame = np.full((h, w, 3), GREY, np.uint8)
    for img, side, x, y in faces:
        frame[y:y + side, x:x + side] = resize_bilinear(img, side)[..., None]
    return frame


@dataclass(frozen=True)
class FrameSpec:
    name: str
    source: str
    timestamp_ms: int | None = None


def _ferplus(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"FERPlus tiny set not found: {path} (pass --ferplus)")
    with np.load(path) as z:
        return z["images"]


# name -> (h, w, [(tiny index, side, x, y), ...]). The video sequence (redetect every 2nd frame)
# moves face 0 right; face 5 leaves on frame 1 (its track is lost) and comes back elsewhere on
# frame 2, where the periodic re-detection gives it a new id.
PASTED = {
    "ferplus_single": (240, 320, [(9, 160, 80, 40)]),
    "ferplus_multi": (240, 560, [(0, 150, 20, 45), (5, 150, 205, 40), (9, 150, 390, 50)]),
}
SEQUENCE = [
    (240, 420, [(0, 150, 20, 45), (5, 150, 250, 40)]),
    (240, 420, [(0, 150, 26, 45)]),
    (240, 420, [(0, 150, 32, 45), (5, 150, 262, 60)]),
]
REDETECT_INTERVAL = 2
# the sample photo shrunk into a wide frame: its face (~11% of the long side) is below auto mode's
# full-range threshold, so both detectors run and their detections are merged
FAR_FACE = (480, 854, 384, 300, 60)


def build_frames(ferplus: Path = FERPLUS_TINY) -> list[tuple[str, list[tuple[FrameSpec, np.ndarray]]]]:
    """[(case name, [(FrameSpec, HxWx3 uint8 frame), ...]), ...]; case "sequence" is video mode."""
    from lrdif.sdk.assets import sample_image

    faces = _ferplus(ferplus)
    photo = sample_image()
    cases = [("sample_photo", [(FrameSpec("sample_photo", "skimage.data.astronaut()"), photo)])]
    far = np.full((FAR_FACE[0], FAR_FACE[1], 3), GREY, np.uint8)
    side, x, y = FAR_FACE[2:]
    far[y:y + side, x:x + side] = resize_bilinear(photo, side)
    cases.append(("far_face", [(FrameSpec("far_face", f"skimage.data.astronaut() at {side} px (face ~{side * 95 // 512} px) "
                                                      f"in a {FAR_FACE[1]}x{FAR_FACE[0]} grey frame"), far)]))
    for name, (h, w, layout) in PASTED.items():
        src = f"{ferplus.name} faces {[i for i, *_ in layout]} pasted into a {w}x{h} grey frame"
        cases.append((name, [(FrameSpec(name, src), paste_faces(h, w, [(faces[i], s, x, y) for i, s, x, y in layout]))]))
    seq = []
    for t, (h, w, layout) in enumerate(SEQUENCE):
        src = f"{ferplus.name} faces {[(i, x, y) for i, _, x, y in layout]} in a {w}x{h} grey frame"
        seq.append((FrameSpec(f"sequence_{t}", src, timestamp_ms=33 * t),
                    paste_faces(h, w, [(faces[i], s, x, y) for i, s, x, y in layout])))
    cases.append(("sequence", seq))
    return cases


def frame_sha256(frame: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frame, np.uint8).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- binary tensors

_DTYPES = {"uint8": np.uint8, "int32": np.int32, "float32": np.float32, "float64": np.float64}


class TensorFile:
    """Tensors appended to one little-endian blob; `add` returns the index entry."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def add(self, array, dtype: str) -> dict:
        a = np.ascontiguousarray(np.asarray(array), dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<"))
        entry = {"dtype": dtype, "shape": list(a.shape), "offset": len(self.buf), "nbytes": a.nbytes}
        self.buf += a.tobytes()
        return entry


def read_tensor(blob: bytes, entry: dict) -> np.ndarray:
    """Inverse of `TensorFile.add` (used by the consistency test)."""
    dt = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
    raw = blob[entry["offset"]:entry["offset"] + entry["nbytes"]]
    return np.frombuffer(raw, dtype=dt).reshape(entry["shape"])


# ----------------------------------------------------------------------------- recording

@dataclass
class _Trace:
    """The runtime calls, detections and final faces of one frame."""
    calls: list = field(default_factory=list)
    detections: list = field(default_factory=list)
    faces: list = field(default_factory=list)


class Recorder:
    """Wraps the runtime calls of one EmotionRecognizer (detector, landmarker, emotion model)
    and records their inputs and outputs per frame. Only the golden writer uses it."""

    def __init__(self, rec) -> None:
        self.rec = rec
        self.trace = _Trace()
        self._roi = None
        fe, be = rec._frontend, rec._backend
        lmk = fe.landmarker
        for name, det in (("detector", fe.detector), ("detector_full", fe.detector_full)):
            if det is not None:
                det.raw = self._wrap_det_raw(det.raw, name)
        fe.detect = self._wrap_detect(fe.detect)
        lmk.landmarks = self._wrap_landmarks(lmk.landmarks)
        lmk.raw = self._wrap_lmk_raw(lmk.raw)
        be.run = self._wrap_emotion(be.run, be.preprocess)
        rec._classify = self._wrap_classify(rec._classify)

    def start_frame(self) -> _Trace:
        self.trace = _Trace()
        return self.trace

    def _wrap_det_raw(self, raw, name: str):
        def f(tensor):
            reg, logits = raw(tensor)
            u8 = np.rint((np.asarray(tensor[0], np.float64) + 1.0) * 127.5).astype(np.uint8)
            self.trace.calls.append((name, None, {"input": (u8, "uint8"),
                                                        "regressors": (reg, "float32"),
                                                        "logits": (logits, "float32")}))
            return reg, logits
        return f

    def _wrap_detect(self, detect):
        def f(*a, **k):
            dets = detect(*a, **k)
            self.trace.detections += [np.concatenate([d.box, [d.score], d.keypoints.ravel()]) for d in dets]
            return dets
        return f

    def _wrap_landmarks(self, landmarks):
        def f(rgb, roi, check=True):
            self._roi = roi
            return landmarks(rgb, roi, check=check)
        return f

    def _wrap_lmk_raw(self, raw):
        def f(crop_rgb):
            pts, logit = raw(crop_rgb)
            r = self._roi
            self.trace.calls.append(("landmarker", [r.cx, r.cy, r.size, r.rotation],
                                     {"input": (crop_rgb, "uint8"), "landmarks": (pts, "float32"),
                                      "presence_logit": (np.array([logit]), "float32")}))
            return pts, logit
        return f

    def _wrap_emotion(self, run, preprocess):
        def f(crops, landmarks):
            probs, logits = run(crops, landmarks)
            self.trace.calls.append(("emotion", None, {
                "crops": (crops, "uint8"), "landmarks": (landmarks, "float32"),
                "image": (preprocess(crops), "float32"), "logits": (logits, "float32"),
                "probabilities": (probs, "float32")}))
            return probs, logits
        return f

    def _wrap_classify(self, classify):
        def f(faces):
            self.trace.faces = list(faces)
            return classify(faces)
        return f


# ----------------------------------------------------------------------------- writing

def _frame_entry(spec: FrameSpec, frame: np.ndarray, trace: _Trace, results: list, size: int) -> tuple[dict, bytes]:
    tf = TensorFile()
    calls = []
    for model, roi, tensors in trace.calls:
        c: dict = {"model": model}
        if roi is not None:
            c["roi"] = [float(v) for v in roi]
        c["tensors"] = {k: tf.add(a, dt) for k, (a, dt) in tensors.items()}
        calls.append(c)
    faces, n = trace.faces, len(trace.faces)
    k = len(results[0].probabilities) if results else 0
    det = np.array(trace.detections, np.float32).reshape(-1, 17)
    entry = {
        "name": spec.name, "file": f"{spec.name}.bin", "width": int(frame.shape[1]),
        "height": int(frame.shape[0]), "frame_file": f"frames/{spec.name}.rgb",
        "frame_sha256": frame_sha256(frame), "frame_source": spec.source,
        "calls": calls, "detections": tf.add(det, "float32"),
        "faces": {
            "boxes": tf.add(np.array([r.box for r in results], np.float32).reshape(n, 4), "float32"),
            "landmarks": tf.add(np.array([f.landmarks for f in faces], np.float32).reshape(n, 468, 3), "float32"),
            "presence": tf.add(np.array([f.presence for f in faces], np.float32), "float32"),
            "affines": tf.add(np.array([f.affine for f in faces], np.float32).reshape(n, 2, 3), "float32"),
            "crops": tf.add(np.array([f.crop for f in faces], np.uint8).reshape(n, size, size, 3), "uint8"),
            "crop_landmarks": tf.add(np.array([f.crop_landmarks for f in faces], np.float32).reshape(n, 468, 2), "float32"),
            "probabilities": tf.add(np.array([list(r.probabilities.values()) for r in results],
                                             np.float32).reshape(n, k), "float32"),
            "face_ids": tf.add(np.array([-1 if r.face_id is None else r.face_id for r in results], np.int32), "int32"),
            "labels": [r.label for r in results],
            "quality": [f.quality for f in faces],
            "source": [f.source for f in faces],
        },
    }
    if spec.timestamp_ms is not None:
        entry["timestamp_ms"] = spec.timestamp_ms
    return entry, bytes(tf.buf)


def _run_case(model: Path, mode: str, frames: list, opts: dict) -> list[tuple[dict, bytes]]:
    from lrdif.sdk.recognizer import EmotionRecognizer, EmotionRecognizerOptions, RunningMode

    rm = RunningMode.VIDEO if mode == "video" else RunningMode.IMAGE
    out = []
    with EmotionRecognizer(EmotionRecognizerOptions(model_path=model, running_mode=rm, num_threads=1, **opts)) as rec:
        recorder = Recorder(rec)
        size = rec.metadata.input_size
        for spec, frame in frames:
            trace = recorder.start_frame()
            results = rec.predict(frame) if mode == "image" else rec.predict_for_video(frame, spec.timestamp_ms)
            out.append(_frame_entry(spec, frame, trace, results, size))
    return out


def _detector_entry(o, min_score: float) -> dict:
    """A detector's decoding settings (the SDK passes its own min score to both detectors)."""
    return {"input_size": o.input_size, "strides": list(o.strides), "anchor_offset": o.anchor_offset,
            "interpolated_anchor": o.interpolated_anchor, "num_anchors": o.num_anchors,
            "min_score": min_score, "iou_threshold": o.iou_threshold, "score_clip": o.score_clip,
            "num_keypoints": 6}


def _model_file(model: Path) -> str:
    try:
        return model.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(model)


def write_golden(out_dir: Path, model: Path | None = None, ferplus: Path = FERPLUS_TINY) -> dict:
    """Run the SDK on the golden frames and write index.json, the .bin files and frames/."""
    import lrdif.sdk
    from lrdif.sdk.artifact_metadata import read_metadata
    from lrdif.sdk.assets import sha256_file
    from lrdif.sdk.face import detector as det
    from lrdif.sdk.face import frontend
    from lrdif.sdk.face import landmarker as lmk
    from lrdif.sdk.models import default_model_path
    from lrdif.sdk.recognizer import EmotionRecognizerOptions

    model = Path(model) if model is not None else default_model_path()
    defaults = EmotionRecognizerOptions()
    opts = {"max_faces": defaults.max_faces, "smoothing": defaults.smoothing,
            "redetect_interval": REDETECT_INTERVAL, "face_detector": defaults.face_detector,
            "keep_uncertain_faces": defaults.keep_uncertain_faces}
    index = {
        "schema": SCHEMA, "sdk_version": getattr(lrdif.sdk, "__version__", ""),
        "model_file": _model_file(model), "model_sha256": sha256_file(model),
        "metadata": read_metadata(model).to_dict(),
        "detector": _detector_entry(det.SHORT_RANGE, defaults.min_detection_confidence),
        "detector_full": _detector_entry(det.FULL_RANGE, max(defaults.min_detection_confidence,
                                                             det.FULL_RANGE.min_score)),
        "landmarker": {"input_size": lmk.INPUT_SIZE, "roi_scale": 1.5,
                       "min_presence": defaults.min_presence_confidence, "num_landmarks": lmk.NUM_LANDMARKS},
        "recognizer": {**opts, "auto_full_below": frontend.AUTO_FULL_BELOW,
                       "roi_agreement": dataclasses.asdict(frontend.RoiAgreement())},
        "cases": [],
    }
    out_dir = Path(out_dir)
    for name, frames in build_frames(ferplus):
        mode = "video" if name == "sequence" else "image"
        entries = _run_case(model, mode, frames, opts)
        for (entry, blob), (_, frame) in zip(entries, frames):
            atomic_write_bytes(out_dir / entry["file"], blob)
            atomic_write_bytes(out_dir / entry["frame_file"], frame.tobytes())
        index["cases"].append({"name": name, "mode": mode, "frames": [e for e, _ in entries]})
    atomic_write_bytes(out_dir / ".gitignore", b"frames/\n")
    atomic_write_bytes(out_dir / "index.json", (json.dumps(index, indent=1) + "\n").encode())
    return index


def write_frames(out_dir: Path, ferplus: Path = FERPLUS_TINY) -> int:
    """Rebuild frames/*.rgb next to an existing index.json; each must match its frame_sha256."""
    out_dir = Path(out_dir)
    try:
        index = json.loads((out_dir / "index.json").read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no golden index.json in {out_dir}") from None
    want = {f["name"]: f for c in index["cases"] for f in c["frames"]}
    n = 0
    for _, frames in build_frames(ferplus):
        for spec, frame in frames:
            entry = want.get(spec.name)
            if entry is None or frame_sha256(frame) != entry["frame_sha256"]:
                raise ValueError(f"golden frame {spec.name} rebuilt here does not match {out_dir}/index.json "
                                 f"(sha256 {frame_sha256(frame)[:12]}...): rerun python -m lrdif.sdk.golden")
            atomic_write_bytes(out_dir / entry["frame_file"], frame.tobytes())
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lrdif.sdk.golden", description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path, help=f"output folder (committed copy: {COMMITTED_DIR.relative_to(REPO)})")
    ap.add_argument("--frames-only", action="store_true", help="only rebuild frames/ next to an existing index.json")
    ap.add_argument("--model", type=Path, default=None, help="emotion model (default: the SDK's shipped model)")
    ap.add_argument("--ferplus", type=Path, default=FERPLUS_TINY, help="FERPlus tiny npz (faces of the pasted frames)")
    a = ap.parse_args(argv)
    try:
        if a.frames_only:
            print(f"{write_frames(a.out_dir, a.ferplus)} golden frames written to {a.out_dir / 'frames'}")
        else:
            index = write_golden(a.out_dir, a.model, a.ferplus)
            n = sum(len(c["frames"]) for c in index["cases"])
            print(f"golden vectors for {n} frames written to {a.out_dir}")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
