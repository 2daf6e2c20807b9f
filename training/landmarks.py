"""Per-dataset landmark / crop cache: the SDK's own face front-end run once over a dataset.

For every image it stores the affine (source-image pixel indices -> crop pixel indices at
`spec.size`, cv2.warpAffine-ready) and the 468 FaceMesh landmarks in crop-normalised [0, 1] x, y,
exactly as `lrdif.sdk.face.FaceFrontEnd` produces them at run time: the cache calls
`FaceFrontEnd(face_detector="short", tight_crop=TIGHT_CROP)` (the SDK's tight-face-crop option,
`lrdif.sdk.face.TightCropStrategy`), so a training crop is the runtime crop of the same image.

Small, tightly cropped faces (FER2013/FERPlus 48x48) are handled like this (TightCropStrategy):
1. detection: the image (grey -> RGB) is placed in the centre of a larger mid-grey (128) canvas so
   the face covers `fraction` of it, and BlazeFace runs on that canvas (it upsamples to 128x128
   itself). Fractions are tried in order `DETECT_FRACTIONS` until a face scores >= 0.5. Measured on
   600 random FERPlus images: face alone 573/600, 0.8 -> 595, 0.65 -> 598, 0.5 -> 599 (grey
   padding; replicate padding 580-584, black 593-597).
2. landmarks: FaceMesh with MediaPipe's ROI from that detection (1.5x box, eye-aligned; outside
   the image: border replicate, as MediaPipe), run on a bicubic upscale of the image to a long side
   of >= 192 px (`MESH_UPSCALE_TO`), landmarks scaled back. Measured on 60 FER-like 48x48 crops of
   the astronaut photo (random scale/shift/rotation) against MediaPipe 0.10.21 on the 512 px photo:
   mean error 0.70 px (at 48 px) on the 48 px image, 0.37 px on the upscale (MediaPipe's crop warp
   has a half-source-pixel offset that matters at 48 px; the upscale also gives the model less blur).
3. fallback when no fraction finds a face (documented, `found=False`): the whole image is taken
   as the face box with the eyes at canonical, level positions (rotation 0), and FaceMesh still runs
   on that ROI.

The result is cached on disk as `<cache>/landmarks/<config>-<images>.npz` (atomic write), where
<config> hashes ALGO_VERSION + spec + the face models' sha256 + the parameters above and <images>
is the sha256 of the images array, so each dataset is computed once. Each file also holds a sha1
per image: a dataset whose images are already in some cache of the same config (a split or a
class-filtered subset of a cached dataset) is served from those rows without recomputing.

CLI: `python -m lrdif.training.landmarks [ferplus.npz]` computes (or loads) the cache for an npz
with an `images` array and prints the report (per split when the npz has `split`/`split_names`).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lrdif.sdk.assets import cache_dir as _lrdif_cache_dir
from lrdif.sdk.assets import face_model_sha256
from lrdif.sdk.face.crop import check_crop_spec
from lrdif.sdk.face.frontend import FaceFrontEnd, TightCropStrategy
from lrdif.sdk.metadata import CropSpec
from lrdif.sdk.fileio import atomic_write

log = logging.getLogger(__name__)

ALGO_VERSION = "landmarks/2"
_MODEL_KEYS = ("detector", "landmarker")   # the face models this cache depends on (short range + FaceMesh)
TIGHT_CROP = TightCropStrategy()           # the SDK's tight-face-crop strategy, defaults measured on FERPlus
DETECT_FRACTIONS = TIGHT_CROP.fractions
CANVAS_GREY = TIGHT_CROP.grey
MESH_UPSCALE_TO = TIGHT_CROP.upscale_to
MIN_DETECTION_SCORE = TIGHT_CROP.min_score
# fallback: whole image = face box; canonical eye positions (fractions of width, height), level
FALLBACK_EYES = TIGHT_CROP.fallback_eyes


@dataclass
class LandmarkCache:
    affine: np.ndarray       # (N, 2, 3) float32 source px -> crop px at spec.size (cv2 convention)
    landmarks: np.ndarray    # (N, 468, 2) float32 crop-normalised x, y
    found: np.ndarray        # (N,) bool: BlazeFace found the face (False = whole-image fallback)
    score: np.ndarray        # (N,) float32 detector score (0 for fallbacks)
    presence: np.ndarray     # (N,) float32 FaceMesh face-presence probability
    spec: CropSpec
    method: np.ndarray | None = None  # (N,) int8 index into DETECT_FRACTIONS, -1 = whole-image fallback
    report: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    path: Path | None = None
    from_cache: bool = False

    def __len__(self) -> int:
        return int(self.affine.shape[0])

    @property
    def reliable(self) -> np.ndarray:
        """(N,) bool: face detected and FaceMesh presence >= 0.5 (what the SDK would accept at run time)."""
        return self.found & (self.presence >= 0.5)

    def crops(self, images: np.ndarray) -> np.ndarray:
        return apply_affine_crops(images, self.affine, self.spec.size)


def _check_images(images: object) -> np.ndarray:
    if images is None:
        raise TypeError("images is None; expected a (N, H, W) or (N, H, W, 3) uint8 array")
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a numpy.ndarray, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    if images.ndim == 4 and images.shape[3] != 3:
        raise ValueError(f"colour images must have 3 channels (N, H, W, 3), got {images.shape}")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 3), got {images.shape}")
    if images.shape[0] == 0:
        raise ValueError("images is empty (N = 0)")
    if images.shape[1] < 8 or images.shape[2] < 8:
        raise ValueError(f"images are too small for face detection: {images.shape[1]}x{images.shape[2]}")
    return np.ascontiguousarray(images)


def config_key(spec: CropSpec) -> str:
    """Hash of everything but the images that determines the result (algorithm, spec, models)."""
    h = hashlib.sha256()
    h.update(ALGO_VERSION.encode())
    h.update(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    h.update(json.dumps(face_model_sha256(_MODEL_KEYS), sort_keys=True).encode())
    h.update(json.dumps({"fractions": DETECT_FRACTIONS, "grey": CANVAS_GREY, "min_score": MIN_DETECTION_SCORE,
                         "fallback": FALLBACK_EYES, "mesh_upscale_to": MESH_UPSCALE_TO}).encode())
    return h.hexdigest()[:16]


def dataset_key(images: np.ndarray, spec: CropSpec) -> str:
    """`<config_key>-<sha256 of the images array>`: the cache file's name."""
    h = hashlib.sha256()
    h.update(json.dumps({"shape": list(images.shape), "dtype": str(images.dtype)}).encode())
    h.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return f"{config_key(spec)}-{h.hexdigest()[:24]}"


def image_digests(images: np.ndarray) -> np.ndarray:
    """(N, 20) uint8 sha1 of each image's bytes (lets subsets of a cached dataset reuse its rows)."""
    out = np.empty((images.shape[0], 20), np.uint8)
    for i in range(images.shape[0]):
        out[i] = np.frombuffer(hashlib.sha1(np.ascontiguousarray(images[i]).data).digest(), np.uint8)
    return out


def _to_rgb(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(img[..., None], 3, axis=2)) if img.ndim == 2 else img


class _Runner:
    """The SDK's FaceFrontEnd with the tight-face-crop option: one Face per image."""

    def __init__(self, spec: CropSpec, num_threads: int = 1):
        self.fe = FaceFrontEnd(crop_spec=spec, num_threads=num_threads, face_detector="short",
                               min_detection_score=MIN_DETECTION_SCORE, tight_crop=TIGHT_CROP)

    def one(self, rgb: np.ndarray):
        """(affine, crop landmarks, found, score, presence, canvas fraction or None)."""
        lm, score, presence, frac = self.fe.tight_landmarks(rgb)
        face = self.fe.make_face(rgb, lm, presence, score=score)
        return face.affine, face.crop_landmarks, frac is not None, score, presence, frac


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


_ARRAYS = ("affine", "landmarks", "found", "score", "presence", "method")


def _load(path: Path, spec: CropSpec, key: str, n: int) -> LandmarkCache | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("key") != key or meta.get("algo") != ALGO_VERSION:
                return None
            c = LandmarkCache(affine=z["affine"], landmarks=z["landmarks"], found=z["found"], score=z["score"],
                              presence=z["presence"], spec=spec, method=z["method"], report=meta["report"],
                              key=key, path=path, from_cache=True)
    except (OSError, KeyError, ValueError) as e:
        log.warning("ignoring unreadable landmark cache %s: %s", path, e)
        return None
    if len(c) != n:
        return None
    return c


def _reuse_rows(folder: Path, ckey: str, digests: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Fill rows of `arrays` from other caches made with the same config (same images by sha1).
    Returns the (N,) bool mask of rows filled."""
    done = np.zeros(len(digests), bool)
    want = {}
    for i, d in enumerate(digests):
        want.setdefault(d.tobytes(), []).append(i)
    for f in sorted(folder.glob(f"{ckey}-*.npz"), key=lambda q: -q.stat().st_mtime):
        if done.all():
            break
        try:
            with np.load(f, allow_pickle=False) as z:
                if "digests" not in z.files:
                    continue
                src, dst = [], []
                for j, d in enumerate(z["digests"]):
                    rows = want.get(d.tobytes())
                    if rows:
                        for i in rows:
                            if not done[i]:
                                src.append(j)
                                dst.append(i)
                                done[i] = True
                if not src:
                    continue
                for k in _ARRAYS:
                    arrays[k][dst] = z[k][src]
        except (OSError, KeyError, ValueError) as e:
            log.warning("ignoring unreadable landmark cache %s: %s", f, e)
    return done


def landmark_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    return Path(cache_dir) if cache_dir is not None else _lrdif_cache_dir() / "landmarks"


def compute_landmark_cache(images: np.ndarray, spec: CropSpec = CropSpec(), cache_dir: str | os.PathLike | None = None,
                           progress: bool = True, num_threads: int = 1, use_cache: bool = True) -> LandmarkCache:
    """Run the SDK's face front-end over `images` ((N, H, W) grey or (N, H, W, 3) RGB, uint8) once
    and cache per-image crop affines + crop-normalised landmarks (see the module docstring).

    cache_dir: folder for the `.npz` (default `<lrdif cache>/landmarks`)."""
    images = _check_images(images)
    check_crop_spec(spec)
    key = dataset_key(images, spec)
    folder = landmark_cache_dir(cache_dir)
    path = folder / f"{key}.npz"
    n = images.shape[0]
    if use_cache and path.exists():
        c = _load(path, spec, key, n)
        if c is not None:
            return c

    arrays = {"affine": np.zeros((n, 2, 3), np.float32), "landmarks": np.zeros((n, 468, 2), np.float32),
              "found": np.zeros(n, bool), "score": np.zeros(n, np.float32), "presence": np.zeros(n, np.float32),
              "method": np.full(n, -1, np.int8)}   # index into DETECT_FRACTIONS, -1 = whole-image fallback
    digests = image_digests(images)
    reused = _reuse_rows(folder, key.split("-")[0], digests, arrays) if use_cache and folder.is_dir() \
        else np.zeros(n, bool)
    todo = np.nonzero(~reused)[0]
    t0 = time.perf_counter()
    if todo.size:
        from tqdm import tqdm

        runner = _Runner(spec, num_threads=num_threads)
        for i in tqdm(todo, desc="face landmarks", unit="img", disable=not progress, mininterval=1.0):
            a, clm, f, s, p, frac = runner.one(_to_rgb(images[i]))
            arrays["affine"][i], arrays["landmarks"][i], arrays["found"][i] = a, clm, f
            arrays["score"][i], arrays["presence"][i] = s, p
            arrays["method"][i] = -1 if frac is None else DETECT_FRACTIONS.index(frac)
    secs = time.perf_counter() - t0
    found, presence, lms, method = arrays["found"], arrays["presence"], arrays["landmarks"], arrays["method"]
    counts = {("fallback" if m < 0 else f"fraction_{DETECT_FRACTIONS[m]:g}"): int((method == m).sum())
              for m in np.unique(method)}
    report = {
        "n": int(n), "found": int(found.sum()), "fallback": int(n - found.sum()),
        "found_fraction": float(found.mean()),
        "detect_fraction_counts": counts,
        "presence_below_0.5": int((presence < 0.5).sum()),
        "mean_presence": float(presence.mean()),
        "landmarks_outside_crop": int((~((lms >= 0) & (lms <= 1)).all(axis=(1, 2))).sum()),
        "computed": int(todo.size), "reused": int(reused.sum()),
        "seconds": round(secs, 1), "ms_per_image": round(1000 * secs / max(1, todo.size), 3),
        "spec": dataclasses.asdict(spec), "algo": ALGO_VERSION, "face_models": face_model_sha256(_MODEL_KEYS),
    }
    if todo.size:  # a dataset made only of already-cached images is not stored twice
        meta = {"key": key, "algo": ALGO_VERSION, "report": report}
        _atomic_savez(path, digests=digests, meta=np.array(json.dumps(meta)), **arrays)
    return LandmarkCache(affine=arrays["affine"], landmarks=lms, found=found, score=arrays["score"],
                         presence=presence, spec=spec, method=method, report=report, key=key,
                         path=path if todo.size else None,
                         from_cache=not todo.size)


def apply_affine_crops(images: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """Cut crops: (N, H, W[, 3]) uint8 + (N, 2, 3) affines -> (N, size, size, 3) uint8 RGB
    (cv2.warpAffine, bilinear, border replicate; grey images are repeated to 3 channels)."""
    images = _check_images(images)
    a = np.asarray(affine, dtype=np.float64)
    if a.ndim != 3 or a.shape[1:] != (2, 3) or a.shape[0] != images.shape[0]:
        raise ValueError(f"affine must have shape ({images.shape[0]}, 2, 3), got {a.shape}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    out = np.empty((images.shape[0], size, size, 3), np.uint8)
    for i in range(images.shape[0]):
        c = cv2.warpAffine(images[i], a[i], (int(size), int(size)), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        out[i] = c[..., None] if c.ndim == 2 else c
    return out


def main(argv: list[str] | None = None) -> int:
    from lrdif.sdk.assets import cache_dir as cd

    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ferplus" / "ferplus_48x48_uint8.npz"
    ap = argparse.ArgumentParser(description="Compute (or load) the landmark cache of an images npz.")
    ap.add_argument("npz", nargs="?", default=str(default))
    ap.add_argument("--cache-dir", default=None, help=f"default {cd() / 'landmarks'}")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with np.load(args.npz, allow_pickle=False) as z:
        images = z["images"]
        split = z["split"] if "split" in z.files else None
        names = [str(s) for s in z["split_names"]] if "split_names" in z.files else None
    c = compute_landmark_cache(images, cache_dir=args.cache_dir, num_threads=args.threads)
    log.info("cache: %s (%s)", c.path, "loaded" if c.from_cache else "computed")
    log.info("%s", json.dumps(c.report, indent=1))
    if split is not None:
        for s in np.unique(split):
            m = split == s
            name = names[int(s)] if names and int(s) < len(names) else str(s)
            log.info("%-12s n=%6d found=%6d (%.2f%%) fallback=%d", name, int(m.sum()), int(c.found[m].sum()),
                     100 * c.found[m].mean(), int((~c.found[m]).sum()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
