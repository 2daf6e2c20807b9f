"""The issue #16 pasted-face check per face detector: FERPlus PrivateTest faces upscaled to
`--face-px` and pasted into grey `--frame` frames (benchmarks.pipeline_accuracy's frames), run
through `EmotionRecognizer.predict` with each `face_detector`.

    python -m benchmarks.pasted_faces --limit 400 --face-px 200      # the issue's setting

Reports faces found, accuracy on all faces (a missed face is wrong) and on the found ones, and the
`quality` flags; writes benchmarks/results/pasted_faces.json (atomic write).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.pipeline_accuracy import DEFAULT_DATA, paste_frames
from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.fileio import atomic_write
from lrdif.sdk.labels import LABELS_8

RESULTS = Path(__file__).resolve().parent / "results"


def run(images, labels, detector: str, face_px: int, frame_wh, seed: int) -> dict:
    pred = np.full(len(images), -1)
    quality: dict[str, int] = {}
    opts = EmotionRecognizerOptions(max_faces=1, num_threads=1, face_detector=detector)
    with EmotionRecognizer(opts) as rec:
        for i, (frame, _) in enumerate(tqdm(paste_frames(images, face_px, frame_wh, seed), total=len(images),
                                            desc=f"pasted faces ({detector})", mininterval=2.0)):
            res = rec.predict(frame)
            if res:
                pred[i] = LABELS_8.index(res[0].label)
                quality[res[0].quality] = quality.get(res[0].quality, 0) + 1
    found = pred >= 0
    return {"n": int(len(images)), "found": int(found.sum()), "accuracy": float((pred == labels).mean()),
            "accuracy_on_found": float((pred[found] == labels[found]).mean()) if found.any() else None,
            "quality": quality}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pasted_faces", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--limit", type=int, default=400, help="first N PrivateTest images (0 = all)")
    p.add_argument("--face-px", type=int, default=200)
    p.add_argument("--frame", default="640x480")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detectors", default="short,auto,tiled")
    p.add_argument("--out", type=Path, default=RESULTS / "pasted_faces.json")
    a = p.parse_args(argv)
    fw, fh = (int(v) for v in a.frame.lower().split("x"))
    if a.face_px > min(fw, fh) or not a.data.is_file():
        p.error(f"--face-px {a.face_px} does not fit {a.frame}, or {a.data} is missing")
    with np.load(a.data) as d:
        test = d["split"] == 2
        images, labels = d["images"][test], d["votes"][test][:, :8].argmax(1)
    if a.limit:
        images, labels = images[:a.limit], labels[:a.limit]
    out = {"face_px": a.face_px, "frame": a.frame, "seed": a.seed,
           "results": {det: run(images, labels, det, a.face_px, (fw, fh), a.seed) for det in a.detectors.split(",")}}
    atomic_write(a.out, lambda f: f.write((json.dumps(out, indent=1) + "\n").encode()))
    for det, r in out["results"].items():
        print(f"{det:6s} found {r['found']}/{r['n']}  accuracy {r['accuracy']:.3f}  on found "
              f"{r['accuracy_on_found']:.3f}  quality {r['quality']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
