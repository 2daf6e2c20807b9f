"""`lrdif-predict`: facial expressions in an image, a video or a camera stream.

    lrdif-predict --sample --out sample_annotated.png      # the bundled astronaut photo
    lrdif-predict photo.jpg --json
    lrdif-predict clip.mp4 --out clip_annotated.mp4
    lrdif-predict --camera 0 --max-frames 300

Prints a table, or with --json one JSON document for an image and one JSON line per frame for a
video or camera; --out writes the frame(s) annotated with each face's box,
label and a bar per class probability. Bad input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from lrdif.sdk.backends import BACKENDS
from lrdif.sdk.results import EmotionResult

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pnm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
PROG = "lrdif-predict"


class UsageError(Exception):
    """Bad input: reported as one line, exit status 2."""


# ---------------------------------------------------------------------------- drawing
def annotate(bgr: np.ndarray, results: list[EmotionResult], labels: tuple[str, ...]) -> np.ndarray:
    """A copy of a BGR uint8 frame with, per face: its box, 'label confidence [#id]' and one bar
    per class probability beside the box."""
    import cv2

    out = np.ascontiguousarray(bgr).copy()
    h, w = out.shape[:2]
    t = max(1, round(min(h, w) / 300))
    fs = max(0.35, min(h, w) / 900)
    for r in results:
        x, y, bw, bh = (int(round(v)) for v in r.box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), (0, 255, 0), t)
        title = f"{r.label} {r.confidence:.2f}" + (f" #{r.face_id}" if r.face_id is not None else "")
        (tw, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, fs, t)
        ty = y - 4 if y - th - 4 >= 0 else y + bh + th + 4
        cv2.rectangle(out, (x, ty - th - 2), (x + tw + 2, ty + base), (0, 0, 0), -1)
        cv2.putText(out, title, (x + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), t, cv2.LINE_AA)
        # probability bars to the right of the box (left of it if there is no room)
        row = max(8, int(th * 1.3))
        bar_w = max(40, bw // 2)
        label_w = int(cv2.getTextSize("happiness", cv2.FONT_HERSHEY_SIMPLEX, fs * 0.8, 1)[0][0]) + 4
        bx = x + bw + 6 if x + bw + 6 + label_w + bar_w < w else max(0, x - 6 - label_w - bar_w)
        panel = out[max(0, y):max(0, y + len(labels) * row), bx:bx + label_w + bar_w]
        panel[:] = (panel * 0.4).astype(np.uint8)          # darken behind the bars for legibility
        for i, lab in enumerate(labels):
            p = float(r.probabilities.get(lab, 0.0))
            by = y + i * row
            cv2.putText(out, lab, (bx, by + row - 2), cv2.FONT_HERSHEY_SIMPLEX, fs * 0.8,
                        (255, 255, 255), 1, cv2.LINE_AA)
            cv2.rectangle(out, (bx + label_w, by + 2), (bx + label_w + bar_w, by + row - 2), (60, 60, 60), -1)
            colour = (0, 200, 255) if lab == r.label else (200, 160, 0)
            cv2.rectangle(out, (bx + label_w, by + 2), (bx + label_w + int(round(p * bar_w)), by + row - 2),
                          colour, -1)
    return out


# ---------------------------------------------------------------------------- output
def format_table(results: list[EmotionResult], labels: tuple[str, ...], prefix: str = "",
                 header: bool = True) -> str:
    """One row per face (face id, box, detector score, label, confidence, every probability; a
    face whose crop is not "good" says so after its label)."""
    head = f"{' ' * len(prefix)}{'face':>4}  {'box x,y,w,h':<22} {'score':>5}  {'label':<10} {'conf':>5}  " + \
        " ".join(f"{lab[:8]:>8}" for lab in labels)
    if not results:
        return f"{prefix}no face found"
    lines = [head] if header else []
    for i, r in enumerate(results):
        box = ",".join(str(int(round(v))) for v in r.box)
        fid = r.face_id if r.face_id is not None else i
        lines.append(f"{prefix}{fid:>4}  {box:<22} {r.score:5.2f}  {r.label:<10} {r.confidence:5.2f}  "
                     + " ".join(f"{r.probabilities[lab]:8.3f}" for lab in labels)
                     + ("" if r.quality == "good" else f"  ({r.quality})"))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- inputs
def _read_image(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UsageError(f"cannot read {path} as an image (unsupported or corrupt file)")
    return bgr


def _frames(cap, source: str, max_frames: int | None) -> Iterator[tuple[np.ndarray, int]]:
    """BGR frames and strictly increasing timestamps (ms) from a cv2.VideoCapture."""
    import cv2

    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    t0 = time.monotonic()
    last = -1
    n = 0
    while max_frames is None or n < max_frames:
        ok, frame = cap.read()
        if not ok or frame is None:
            break
        if source == "camera" or fps <= 0:
            ts = int((time.monotonic() - t0) * 1000)
        else:
            ts = int(round(n * 1000.0 / fps))
        ts = max(ts, last + 1)
        last = ts
        n += 1
        yield frame, ts


def _open_video(spec: "str | int", what: str):
    import cv2

    cap = cv2.VideoCapture(spec)
    if not cap.isOpened():
        raise UsageError(f"cannot open {what}")
    return cap


# ---------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Facial-expression recognition on an image, "
                                 "a video or a camera (lrdif SDK).")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("input", nargs="?", help="image or video file")
    src.add_argument("--camera", type=int, metavar="N", help="camera index (cv2.VideoCapture(N))")
    src.add_argument("--sample", action="store_true", help="the bundled sample photo (scikit-image astronaut)")
    ap.add_argument("--model", help="emotion model (.onnx/.tflite/.pte/.mlpackage); default: the shipped "
                    "model named by sdk/models/manifest.json (lrdif-mobile.tflite)")
    ap.add_argument("--backend", default="auto", choices=["auto", *BACKENDS])
    ap.add_argument("--threads", type=int, default=None, help="runtime threads (default: runtime's choice)")
    ap.add_argument("--max-faces", type=int, default=4)
    ap.add_argument("--min-detection-confidence", type=float, default=0.5)
    ap.add_argument("--face-detector", default=None, choices=["auto", "short", "full", "tiled"],
                    help="BlazeFace short range (selfie distance), full range (up to ~5 m), auto "
                         "(short range, plus full range when it finds no face or only small ones) or "
                         "tiled (auto plus detection on overlapping windows: smaller faces, more time); "
                         "default: tiled for an image (every face of a group photo), auto for a video "
                         "or camera (a frame's time stays that of one or two detector calls)")
    ap.add_argument("--keep-uncertain", action="store_true",
                    help="also report faces whose landmarks never agreed with their box (quality 'uncertain')")
    ap.add_argument("--smoothing", type=float, default=0.6, help="video EMA factor in [0, 1) (0 = off)")
    ap.add_argument("--max-frames", type=int, default=None, help="video/camera: stop after N frames")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--landmarks", action="store_true", help="include the 468 landmarks in --json output")
    ap.add_argument("--out", metavar="ANNOTATED", help="write the annotated image / video here")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return _run(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        # model / face-model / option problems: ModelLoadError, AssetError, MetadataError, ...
        msg = " ".join(str(e).split())
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2


def _source(args: argparse.Namespace):
    """(kind "image" | "video" | "camera", display name, still BGR frame or None)."""
    import cv2

    if args.input is None and args.camera is None and not args.sample:
        raise UsageError("give an IMAGE or VIDEO file, --camera N or --sample")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError("--max-frames must be >= 1")
    if args.sample:
        from lrdif.sdk.assets import sample_image

        return "image", "sample:astronaut", cv2.cvtColor(sample_image(), cv2.COLOR_RGB2BGR)
    if args.camera is not None:
        return "camera", f"camera:{args.camera}", None
    path = Path(args.input)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES or (suffix not in VIDEO_SUFFIXES and cv2.haveImageReader(str(path))):
        return "image", str(path), _read_image(path)
    return "video", str(path), None


def _check_out(args: argparse.Namespace, kind: str) -> None:
    if not args.out:
        return
    out = Path(args.out)
    if not out.parent.exists():
        raise UsageError(f"output folder does not exist: {out.parent}")
    if kind == "image" and out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"--out for an image needs an image suffix ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if kind != "image" and out.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError("--out for a video/camera needs a video suffix such as .mp4 or .avi")


def _run_image(args: argparse.Namespace, rec, name: str, still) -> int:
    import cv2

    labels = rec.labels
    results = rec.predict(still)
    if args.json:
        print(json.dumps({"source": name, "width": still.shape[1], "height": still.shape[0],
                          "model": rec.metadata.model_name, "backend": rec.backend,
                          "faces": [r.to_dict(args.landmarks) for r in results]}))
    else:
        print(f"{name} ({still.shape[1]}x{still.shape[0]}), model {rec.metadata.model_name} "
              f"{rec.metadata.model_version} on {rec.backend}")
        print(format_table(results, labels))
    if args.out:
        if not cv2.imwrite(args.out, annotate(still, results, labels)):
            raise UsageError(f"cannot write {args.out}")
        if not args.json:
            print(f"annotated image written to {args.out}")
    return 0


def _run_video(args: argparse.Namespace, rec, kind: str, name: str) -> int:
    import cv2

    labels = rec.labels
    cap = _open_video(args.camera if kind == "camera" else str(args.input),
                      name if kind == "camera" else f"{name} as a video (unsupported or corrupt file)")
    writer = None
    n = 0
    header_done = False
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        for frame, ts in _frames(cap, kind, args.max_frames):
            results = rec.predict_for_video(frame, ts)
            n += 1
            if args.json:           # JSON Lines: one object per frame, printed as it comes
                print(json.dumps({"source": name, "frame": n - 1, "timestamp_ms": ts,
                                  "faces": [r.to_dict(args.landmarks) for r in results]}), flush=True)
            else:
                print(format_table(results, labels, prefix=f"[frame {n - 1:5d} {ts:7d} ms] ",
                                   header=not header_done))
                header_done = header_done or bool(results)
            if args.out:
                if writer is None:
                    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"),
                                             float(fps if 0 < fps < 240 else 30.0),
                                             (frame.shape[1], frame.shape[0]))
                    if not writer.isOpened():
                        raise UsageError(f"cannot write a video to {args.out}")
                writer.write(annotate(frame, results, labels))
    except KeyboardInterrupt:          # Ctrl-C ends a camera/video run normally
        pass
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if n == 0:
        raise UsageError(f"no frame could be read from {name}")
    if args.out and not args.json:
        print(f"annotated video ({n} frames) written to {args.out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from lrdif.sdk.recognizer import EmotionRecognizer, EmotionRecognizerOptions, RunningMode

    kind, name, still = _source(args)
    _check_out(args, kind)
    mode = RunningMode.IMAGE if kind == "image" else RunningMode.VIDEO
    opts = EmotionRecognizerOptions(
        model_path=args.model, backend=args.backend, num_threads=args.threads, max_faces=args.max_faces,
        min_detection_confidence=args.min_detection_confidence, running_mode=mode, bgr=True,
        face_detector=args.face_detector or ("tiled" if kind == "image" else "auto"),
        keep_uncertain_faces=args.keep_uncertain,
        smoothing=args.smoothing if mode is RunningMode.VIDEO else 0.0)
    with EmotionRecognizer(opts) as rec:
        if kind == "image":
            return _run_image(args, rec, name, still)
        return _run_video(args, rec, kind, name)

if __name__ == "__main__":
    sys.exit(main())
