"""Whole-pipeline accuracy: FERPlus PrivateTest faces pasted into larger frames, run through
`EmotionRecognizer().predict` (detector + landmarks + emotion), compared with the labels and with
`lrdif-eval` on the same images (the SDK issue's bar: within 3 points).

    python -m benchmarks.pipeline_accuracy [--model M] [--limit N] [--eval-json private__clean.json] \
        [--json OUT.json]

Each 48x48 face is upscaled to `--face-px` (bicubic) and pasted at a seeded random position into a
`--frame` WxH mid-grey frame, as a phone frame would hold a face. A frame where the SDK finds no
face counts as wrong (and is counted apart).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.labels import LABELS_8

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ferplus" / "ferplus_48x48_uint8.npz"


def paste_frames(images: np.ndarray, face_px: int, frame_wh: tuple[int, int], seed: int):
    """Yield (frame RGB uint8, (x, y)) with each gray face upscaled and pasted into a grey frame."""
    rng = np.random.default_rng(seed)
    w, h = frame_wh
    for img in images:
        face = cv2.resize(img, (face_px, face_px), interpolation=cv2.INTER_CUBIC)
        frame = np.full((h, w), 128, np.uint8)
        x = int(rng.integers(0, w - face_px + 1))
        y = int(rng.integers(0, h - face_px + 1))
        frame[y:y + face_px, x:x + face_px] = face
        yield np.ascontiguousarray(np.repeat(frame[..., None], 3, axis=2)), (x, y)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_accuracy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--model", default=None, help="exported artifact (default: the shipped model)")
    p.add_argument("--limit", type=int, default=0, help="first N PrivateTest images (0 = all)")
    p.add_argument("--face-px", type=int, default=160)
    p.add_argument("--frame", default="640x480")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-json", type=Path, default=None, help="lrdif-eval JSON on the same images")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    if not a.data.is_file():
        print(f"pipeline_accuracy: data file {a.data} does not exist", file=sys.stderr)
        return 2
    fw, fh = (int(v) for v in a.frame.lower().split("x"))
    if a.face_px > min(fw, fh):
        print(f"pipeline_accuracy: --face-px {a.face_px} does not fit in a {a.frame} frame", file=sys.stderr)
        return 2
    d = np.load(a.data)
    test = d["split"] == 2
    images, votes = d["images"][test], d["votes"][test][:, :8]
    if a.limit:
        images, votes = images[:a.limit], votes[:a.limit]
    labels = votes.argmax(1)
    opts = EmotionRecognizerOptions(model_path=a.model, max_faces=1, num_threads=1)
    pred = np.full(len(images), -1)
    with EmotionRecognizer.create_from_options(opts) as rec:
        for i, (frame, _) in enumerate(tqdm(paste_frames(images, a.face_px, (fw, fh), a.seed),
                                            total=len(images), desc="pipeline")):
            res = rec.predict(frame)
            if res:
                pred[i] = LABELS_8.index(res[0].label)
    found = pred >= 0
    acc = float((pred == labels).mean())
    out = {"n": int(len(images)), "faces_found": int(found.sum()), "accuracy": acc,
           "accuracy_on_found": float((pred[found] == labels[found]).mean()) if found.any() else None,
           "face_px": a.face_px, "frame": a.frame, "seed": a.seed, "model": a.model or "shipped default"}
    if a.eval_json:
        ev = json.loads(a.eval_json.read_text())
        out["lrdif_eval_accuracy"] = ev["accuracy"]
        out["gap_points"] = 100 * (ev["accuracy"] - acc)
    print(json.dumps(out, indent=2))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
