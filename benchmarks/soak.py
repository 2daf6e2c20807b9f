"""Soak: long VIDEO runs and many threads on one recognizer (issue #16 reliability suite).

    python -m benchmarks.soak                          # 10,000 video frames, 8 threads x 500 calls
    python -m benchmarks.soak --frames 500 --calls 20  # a quick look

1. VIDEO mode, `--frames` frames with a face present (the sample photo moving and changing size
   on a grey canvas, re-detection every 10 frames): resident memory (RSS) and open file
   descriptors after a warm-up of `--warmup` frames and at the end (goal: growth < 5 MB, 0 fds).
2. IMAGE mode, `--threads` threads x `--calls` predict() calls on one recognizer over a set of
   frames, against the same frames run on one thread: every result identical (boxes,
   probabilities) and no exception.

Writes benchmarks/results/soak.json (atomic write) and prints the figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lrdif.sdk import EmotionRecognizer, EmotionRecognizerOptions, RunningMode
from lrdif.sdk.fileio import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def video_frame(img: np.ndarray, i: int, canvas: int = 720) -> np.ndarray:
    """The photo on a grey canvas, drifting and breathing in size with frame index i."""
    import cv2

    s = int(320 + 60 * np.sin(i / 37.0))
    face = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
    out = np.full((canvas, canvas, 3), 90, np.uint8)
    x = int((canvas - s) / 2 + 150 * np.sin(i / 53.0))
    y = int((canvas - s) / 2 + 100 * np.cos(i / 71.0))
    out[y:y + s, x:x + s] = face
    return out


def _proc_stats() -> tuple[float, int]:
    import psutil

    p = psutil.Process()
    return p.memory_info().rss / 2**20, p.num_fds() if hasattr(p, "num_fds") else len(p.open_files())


def soak_video(img: np.ndarray, frames: int, warmup: int) -> dict:
    rss, faces, t0 = [], 0, time.perf_counter()
    with EmotionRecognizer(EmotionRecognizerOptions(running_mode=RunningMode.VIDEO, num_threads=1)) as rec:
        base = None
        for i in tqdm(range(frames), desc="soak video", unit="frame", mininterval=2.0):
            faces += len(rec.predict_for_video(video_frame(img, i), i * 33))
            if i + 1 == warmup:
                base = _proc_stats()
            if (i + 1) % max(1, frames // 10) == 0:
                rss.append(round(_proc_stats()[0], 2))
        end = _proc_stats()
    base = base or end
    return {"frames": frames, "warmup": warmup, "frames_with_face": faces,
            "rss_mb_after_warmup": round(base[0], 2), "rss_mb_end": round(end[0], 2),
            "rss_growth_mb": round(end[0] - base[0], 2), "fds_after_warmup": base[1], "fds_end": end[1],
            "fd_growth": end[1] - base[1], "rss_mb_every_tenth": rss,
            "ms_per_frame": round(1000 * (time.perf_counter() - t0) / max(1, frames), 2)}


def _key(results) -> list:
    return [(tuple(round(v, 4) for v in r.box), r.label, tuple(round(p, 6) for p in r.probabilities.values()))
            for r in results]


def soak_threads(img: np.ndarray, threads: int, calls: int) -> dict:
    frames = [video_frame(img, i) for i in range(0, 400, 40)]
    with EmotionRecognizer(EmotionRecognizerOptions(num_threads=1)) as rec:
        expected = [_key(rec.predict(f)) for f in frames]
        mismatches, errors = [], []
        bar = tqdm(total=threads * calls, desc="soak threads", unit="call", mininterval=2.0)

        def worker(k: int) -> None:
            for j in range(calls):
                i = (k + j) % len(frames)
                try:
                    got = _key(rec.predict(frames[i]))
                except Exception as e:                     # reported, never swallowed silently
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                if got != expected[i]:
                    mismatches.append(i)
                bar.update(1)

        t0 = time.perf_counter()
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        bar.close()
    return {"threads": threads, "calls_per_thread": calls, "frames": len(frames),
            "identical_to_one_thread": not mismatches and not errors, "mismatches": len(mismatches),
            "errors": errors[:5], "n_errors": len(errors),
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    a = ap.parse_args(argv)
    if min(a.frames, a.threads, a.calls) < 1 or not 0 < a.warmup <= a.frames:
        ap.error("--frames, --threads, --calls must be >= 1 and 0 < --warmup <= --frames")
    from lrdif.sdk.assets import sample_image

    img = sample_image()
    out = {"video": soak_video(img, a.frames, a.warmup), "threads": soak_threads(img, a.threads, a.calls)}
    atomic_write(a.out, lambda f: f.write((json.dumps(out, indent=1) + "\n").encode()))
    v, t = out["video"], out["threads"]
    print(f"video: {v['frames']} frames ({v['frames_with_face']} faces), RSS {v['rss_mb_after_warmup']} -> "
          f"{v['rss_mb_end']} MB ({v['rss_growth_mb']:+.2f} MB), fds {v['fds_after_warmup']} -> {v['fds_end']}, "
          f"{v['ms_per_frame']} ms/frame")
    print(f"threads: {t['threads']} x {t['calls_per_thread']} calls, identical to one thread: "
          f"{t['identical_to_one_thread']} ({t['mismatches']} mismatches, {t['n_errors']} errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
