"""A real group photo per face detector (issue #16 bar: all 6 faces found).

    python -m benchmarks.group_photo

The photo is `insightface/data/images/t1.jpg` (1280x886, six people, faces ~100 px) inside the
PyPI wheel `insightface==2.1`, fetched with `pip download --no-deps` into a temporary folder and
read from the wheel in memory: it is never written into the repository. Writes
benchmarks/results/group_photo.json (faces found, label, confidence and quality per detector).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.fileio import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
WHEEL = "insightface==2.1"
MEMBER = "insightface/data/images/t1.jpg"
FACES_IN_PHOTO = 6


def group_photo() -> np.ndarray:
    """The BGR group photo, read from the insightface wheel (pip download, no install)."""
    with tempfile.TemporaryDirectory(prefix="lrdif-group-") as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL],
                           capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("insightface-*.whl"))
        if r.returncode != 0 or not wheels:
            raise RuntimeError(f"pip download {WHEEL} failed: {r.stderr.strip()[-400:]}")
        with zipfile.ZipFile(wheels[0]) as z:
            data = np.frombuffer(z.read(MEMBER), np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"{MEMBER} in {wheels[0].name} is not a readable image")
    return bgr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.group_photo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--detectors", default="short,full,auto,tiled")
    ap.add_argument("--out", type=Path, default=RESULTS / "group_photo.json")
    a = ap.parse_args(argv)
    bgr = group_photo()
    out = {"photo": f"{WHEEL}:{MEMBER}", "shape": list(bgr.shape), "faces_in_photo": FACES_IN_PHOTO, "detectors": {}}
    for det in a.detectors.split(","):
        opts = EmotionRecognizerOptions(face_detector=det, max_faces=10, bgr=True, num_threads=1)
        with EmotionRecognizer(opts) as rec:
            res = rec.predict(bgr)
        out["detectors"][det] = {"found": len(res), "faces": [
            {"box": [round(float(v), 1) for v in r.box], "label": r.label, "confidence": round(r.confidence, 3),
             "quality": r.quality} for r in sorted(res, key=lambda r: r.box[0])]}
        print(f"{det:6s} {len(res)}/{FACES_IN_PHOTO} faces: "
              + ", ".join(f"{f['label']} {f['confidence']:.2f}" for f in out["detectors"][det]["faces"]))
    atomic_write(a.out, lambda f: f.write((json.dumps(out, indent=1) + "\n").encode()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
