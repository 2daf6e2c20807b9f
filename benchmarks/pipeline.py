"""The whole SDK pipeline (BlazeFace -> FaceMesh -> crop -> emotion model) per frame and per face.

Frames: skimage's astronaut (one real face, 512x512) and multi-face frames built from real FERPlus
test crops (upscaled 48x48 faces pasted on a mid-grey canvas, 2x2 grid, 640x640). Each (artifact,
threads, repeat) runs in a fresh process through `lrdif.sdk.EmotionRecognizer` (IMAGE mode:
detection every frame). Stage times come from timing wrappers around the recognizer's detector,
landmarker and backend calls (private attributes; total time is measured independently).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks import latency
from benchmarks.evalsets import FERPLUS, FERPLUS_TINY


def build_frames(cdir: Path, smoke: bool = False) -> Path:
    import cv2
    out = Path(cdir) / "pipeline_frames_v1.npz"
    if out.exists():
        return out
    from skimage import data
    astro = np.ascontiguousarray(data.astronaut())
    src = np.load(FERPLUS_TINY if smoke or not FERPLUS.exists() else FERPLUS)
    imgs = src["images"]
    votes = src["votes"][:, :8]
    if "split" in src.files:
        idx = np.flatnonzero(src["split"] == 2)
    else:
        idx = np.arange(len(imgs))
    # four different expressions: happiness, surprise, neutral, sadness (first of each in the split)
    lab = votes[idx].argmax(1)
    pick = [int(idx[np.flatnonzero(lab == c)[0]]) for c in (1, 2, 0, 3)]
    cell, face = 320, 192
    grid = np.full((2 * cell, 2 * cell, 3), 128, np.uint8)
    for k, i in enumerate(pick):
        f = cv2.resize(imgs[i], (face, face), interpolation=cv2.INTER_CUBIC)
        r, c = divmod(k, 2)
        y0, x0 = r * cell + (cell - face) // 2, c * cell + (cell - face) // 2
        grid[y0:y0 + face, x0:x0 + face] = f[..., None]
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, astronaut=astro, ferplus_2x2=grid, ferplus_rows=np.array(pick))
    tmp.replace(out)
    return out


FRAMES = ("astronaut", "ferplus_2x2")


class _Timer:
    def __init__(self, fn):
        self.fn, self.total, self.calls = fn, 0.0, 0

    def __call__(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.total += time.perf_counter() - t0
            self.calls += 1


def child_measure(spec: dict) -> dict:
    """Runs inside a fresh process (benchmarks.child mode 'pipeline')."""
    from benchmarks.stats import latency_stats as _stats
    t0 = time.perf_counter()
    from lrdif.sdk.recognizer import EmotionRecognizer, EmotionRecognizerOptions
    t_import = time.perf_counter() - t0
    threads = int(spec["threads"])
    t1 = time.perf_counter()
    rec = EmotionRecognizer(EmotionRecognizerOptions(model_path=spec["artifact"], num_threads=threads, max_faces=8))
    t_load = time.perf_counter() - t1
    fe = rec._frontend
    timers = {}
    try:
        timers["detector"] = fe.detector.detect = _Timer(fe.detector.detect)
        timers["landmarks"] = fe.landmarker.landmarks = _Timer(fe.landmarker.landmarks)
        timers["emotion"] = rec._backend.run = _Timer(rec._backend.run)
    except AttributeError:
        pass
    frames = np.load(spec["frames"])
    out = {"import_s": t_import, "load_s": t_load, "backend": rec.backend, "frames": {}}
    first = None
    for name in ("astronaut", "ferplus_2x2"):
        frame = frames[name]
        t2 = time.perf_counter()
        res = rec.predict(frame)
        if first is None:
            first = time.perf_counter() - t2
        for _ in range(int(spec["warmup"])):
            rec.predict(frame)
        for t in timers.values():
            t.total, t.calls = 0.0, 0
        ms = []
        for _ in range(int(spec["iters"])):
            a = time.perf_counter_ns()
            res = rec.predict(frame)
            ms.append((time.perf_counter_ns() - a) / 1e6)
        n = max(1, int(spec["iters"]))
        faces = len(res)
        st = _stats(ms)
        out["frames"][name] = {
            "shape": list(frame.shape), "faces": faces, "labels": [r.label for r in res], "frame": st,
            "per_face_p50_ms": st["p50_ms"] / faces if faces else None,
            "stages_mean_ms": {k: 1e3 * t.total / n for k, t in timers.items()},
        }
    out["first_frame_s"] = first
    out["cold_start_s"] = t_load + (first or 0.0)
    rec.close()
    return out


def measure(runnable: list[dict], threads: list[int], args, cdir: Path, log=print) -> dict:
    try:
        import lrdif.sdk.recognizer  # noqa: F401
    except Exception as e:
        return {"skipped": f"lrdif.sdk.recognizer not importable: {e}"}
    frames = build_frames(cdir, args.smoke)
    configs = []
    for a in runnable:
        for t in threads:
            configs.append({"key": f"pipeline:{a['name']}@{t}t", "artifact": a["name"], "runtime": a["runtime"],
                            "precision": a["precision"], "threads": t,
                            "spec": {"mode": "pipeline", "artifact": a["path"], "frames": str(frames)}})
    iters = max(3, args.iters // 4)
    fields = {"cold_start_ms": "cold_start_s", "load_ms": "load_s", "peak_rss_mb": "peak_rss_mb"}
    for fr in FRAMES:
        fields.update({f"{fr}.faces": f"frames.{fr}.faces", f"{fr}.frame_p50_ms": f"frames.{fr}.frame.p50_ms",
                       f"{fr}.frame_p90_ms": f"frames.{fr}.frame.p90_ms",
                       f"{fr}.frame_p99_ms": f"frames.{fr}.frame.p99_ms",
                       f"{fr}.per_face_p50_ms": f"frames.{fr}.per_face_p50_ms"})
        for st in ("detector", "landmarks", "emotion"):
            fields[f"{fr}.{st}_ms"] = f"frames.{fr}.stages_mean_ms.{st}"
    rows = latency.measure(configs, args.repeats, max(1, args.warmup // 4), iters, log=log, fields=fields)
    for r in rows:
        r.pop("runs", None)
    return {"frames_file": str(frames), "rows": rows, "iters": iters,
            "note": "IMAGE mode (face detector on every frame), max_faces=8; per face = frame p50 / faces found; "
                    "stage times = mean per frame of the recognizer's detector / landmarker / backend calls"}
