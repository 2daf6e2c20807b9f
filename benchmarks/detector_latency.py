"""Whole-pipeline latency per face detector (issue #16: full range reported beside short range; goal:
auto adds < 1 ms to short range on selfie frames).

    python -m benchmarks.detector_latency                  # 200 rounds
    python -m benchmarks.detector_latency --rounds 20      # quick look

`EmotionRecognizer.predict` (IMAGE mode: detector, FaceMesh, crop, emotion model; one thread per
runtime) with each `face_detector` on four frames: the sample photo (512x512, face 19% of the long
side) and the same photo enlarged into a 640x480 frame (face 22%) - selfie distance -, the golden
`far_face` frame (854x480, face 11%) and a 640x480 photo without a face. The detectors run in turn
inside each round (round-robin), so that a machine whose load changes during the run slows them
alike; reported: the median ms per frame, and for auto, full and tiled the median of the paired
per-round differences against short range on the same frame. Writes
benchmarks/results/detector_latency.json (atomic write).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.fileio import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("short", "full", "auto", "tiled")
SELFIE = ("selfie_512", "selfie_640x480")


def frames() -> dict[str, np.ndarray]:
    """name -> HxWx3 uint8 RGB frame (built at run time from registry packages; nothing stored)."""
    from skimage import data

    from lrdif.sdk.assets import sample_image
    from lrdif.sdk.golden import FAR_FACE, GREY, resize_bilinear

    photo = sample_image()
    big = cv2.resize(photo, (768, 768), interpolation=cv2.INTER_LINEAR)
    far = np.full((FAR_FACE[0], FAR_FACE[1], 3), GREY, np.uint8)
    side, x, y = FAR_FACE[2:]
    far[y:y + side, x:x + side] = resize_bilinear(photo, side)
    empty = cv2.resize(data.coffee(), (640, 480), interpolation=cv2.INTER_AREA)
    return {"selfie_512": photo, "selfie_640x480": np.ascontiguousarray(big[100:580, 64:704]),
            "far_face_854x480": far, "no_face_640x480": np.ascontiguousarray(empty)}


def measure(rounds: int, warmup: int = 3, modes=MODES) -> dict:
    recs = {m: EmotionRecognizer(EmotionRecognizerOptions(face_detector=m, num_threads=1)) for m in modes}
    out: dict = {}
    try:
        for name, frame in frames().items():
            ms = {m: [] for m in modes}
            for r in range(warmup + rounds):
                for m in modes:
                    t0 = time.perf_counter()
                    res = recs[m].predict(frame)
                    if r >= warmup:
                        ms[m].append(1000 * (time.perf_counter() - t0))
            faces = {m: len(recs[m].predict(frame)) for m in modes}
            row = {"shape": list(frame.shape[:2]), "faces": faces,
                   "median_ms": {m: round(float(np.median(v)), 2) for m, v in ms.items()}}
            if "short" in ms:
                row["median_extra_ms_vs_short"] = {
                    m: round(float(np.median(np.array(v) - np.array(ms["short"]))), 2) for m, v in ms.items()
                    if m != "short"}
            out[name] = row
    finally:
        for r in recs.values():
            r.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.detector_latency", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--out", type=Path, default=RESULTS / "detector_latency.json")
    a = p.parse_args(argv)
    if a.rounds < 1:
        p.error("--rounds must be >= 1")
    res = {"rounds": a.rounds, "threads": 1, "frames": measure(a.rounds)}
    atomic_write(a.out, lambda f: f.write((json.dumps(res, indent=1) + "\n").encode()))
    print(f"{'frame':18s} " + " ".join(f"{m:>16s}" for m in MODES) + "   (median ms per frame; faces)")
    for name, row in res["frames"].items():
        extra = row.get("median_extra_ms_vs_short", {})
        cells = [f"{row['median_ms'][m]:7.2f}" + (f" ({extra[m]:+.2f})" if m in extra else "        ")
                 + f" {row['faces'][m]}" for m in MODES]
        print(f"{name:18s} " + " ".join(f"{c:>16s}" for c in cells))
    print("(in brackets: median of the paired per-round differences against short range)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
