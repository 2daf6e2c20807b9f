"""Face models and the sample photo, obtained once at setup time and verified by sha256.

The face models are MediaPipe's (Apache-2.0) BlazeFace short-range and full-range (sparse)
detectors and the 468-point FaceMesh landmarker. They are taken from the PyPI wheel ``mediapipe==0.10.21`` (which bundles them
under ``mediapipe/modules/...``) and cached in ``<cache>/face_models/`` where ``<cache>`` is
``$LRDIF_CACHE_DIR`` or ``platformdirs.user_cache_dir("lrdif")``.

``lrdif-setup`` (:func:`main`) fetches them; the SDK and the tests only *read* the cache
(``face_model_paths(download=False)``), so nothing is ever downloaded implicitly in tests.

Every file is checked against the pinned sha256 below, on fetch and on every lookup: a corrupted
or tampered cached file raises :class:`AssetIntegrityError` (``face_model_paths(download=True)``
deletes it and fetches it again).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lrdif.sdk.fileio import atomic_write_bytes as _atomic_write_bytes

MEDIAPIPE_WHEEL_VERSION = "0.10.21"


@dataclass(frozen=True)
class FaceModelAsset:
    key: str            # "detector" (short range) | "detector_full" (full range) | "landmarker"
    filename: str
    wheel_path: str     # path inside the mediapipe wheel
    url: str            # official MediaPipe asset URL (for users with internet)
    size: int
    sha256: str


FACE_MODELS: dict[str, FaceModelAsset] = {
    "detector": FaceModelAsset(
        key="detector",
        filename="face_detection_short_range.tflite",
        wheel_path="mediapipe/modules/face_detection/face_detection_short_range.tflite",
        url="https://storage.googleapis.com/mediapipe-assets/face_detection_short_range.tflite",
        size=229_714,
        sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "detector_full": FaceModelAsset(
        key="detector_full",
        filename="face_detection_full_range_sparse.tflite",
        wheel_path="mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        url="https://storage.googleapis.com/mediapipe-assets/face_detection_full_range_sparse.tflite",
        size=676_746,
        sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
    "landmarker": FaceModelAsset(
        key="landmarker",
        filename="face_landmark.tflite",
        wheel_path="mediapipe/modules/face_landmark/face_landmark.tflite",
        url="https://storage.googleapis.com/mediapipe-assets/face_landmark.tflite",
        size=1_242_398,
        sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
}


class AssetError(RuntimeError):
    """A face model is missing or cannot be fetched."""


class AssetIntegrityError(AssetError):
    """A face model file does not match its pinned sha256 (corrupted or tampered)."""


def cache_dir() -> Path:
    """The lrdif cache root: ``$LRDIF_CACHE_DIR`` or platformdirs' user cache ``lrdif``."""
    env = os.environ.get("LRDIF_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lrdif"))


def face_models_dir() -> Path:
    return cache_dir() / "face_models"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory + os.replace."""
    _atomic_write_bytes(path, data)


def verify_file(path: str | os.PathLike, asset: FaceModelAsset) -> Path:
    """Raise AssetIntegrityError unless `path` has the pinned sha256 of `asset`."""
    p = Path(path)
    if not p.is_file():
        raise AssetError(f"{asset.key} model file not found: {p}")
    digest = sha256_file(p)
    if digest != asset.sha256:
        raise AssetIntegrityError(
            f"{asset.key} model {p} failed the sha256 check: got {digest}, expected {asset.sha256} "
            f"({asset.filename} from mediapipe=={MEDIAPIPE_WHEEL_VERSION}). The file is corrupted or "
            f"was replaced; run `lrdif-setup` to fetch it again."
        )
    return p


def _fetch_from_wheel(assets: list[FaceModelAsset], dest: Path) -> None:
    """pip-download the mediapipe wheel (no deps, manylinux x86_64 cp311) and extract the models."""
    with tempfile.TemporaryDirectory(prefix="lrdif-mp-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               f"mediapipe=={MEDIAPIPE_WHEEL_VERSION}", "--python-version", "3.11",
               "--platform", "manylinux_2_28_x86_64", "--only-binary=:all:", "-d", tmp]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssetError(f"pip download of mediapipe=={MEDIAPIPE_WHEEL_VERSION} failed:\n{r.stderr.strip()}")
        wheels = sorted(Path(tmp).glob("mediapipe-*.whl"))
        if not wheels:
            raise AssetError(f"pip download produced no mediapipe wheel in {tmp}")
        with zipfile.ZipFile(wheels[0]) as z:
            for a in assets:
                try:
                    data = z.read(a.wheel_path)
                except KeyError:
                    raise AssetError(f"{a.wheel_path} is not inside {wheels[0].name}") from None
                _store(a, data, dest)


def _fetch_from_url(assets: list[FaceModelAsset], dest: Path) -> None:
    for a in assets:
        with urllib.request.urlopen(a.url, timeout=60) as r:
            data = r.read()
        _store(a, data, dest)


def _store(a: FaceModelAsset, data: bytes, dest: Path) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != a.sha256:
        raise AssetIntegrityError(
            f"fetched {a.filename} has sha256 {digest}, expected {a.sha256}; refusing to cache it")
    atomic_write_bytes(dest / a.filename, data)


def fetch_face_models(source: str = "pypi", force: bool = False) -> dict[str, Path]:
    """Fetch (if needed) and verify every face model (FACE_MODELS) into the cache; return their paths.

    source: "pypi" (the mediapipe wheel via `pip download`, default) or "url" (MediaPipe's
    official storage.googleapis.com assets; sha256-checked against the same pins).
    A cached file that fails the sha256 check is deleted and fetched again.
    """
    dest = face_models_dir()
    missing = []
    for a in FACE_MODELS.values():
        p = dest / a.filename
        if p.exists() and not force:
            try:
                verify_file(p, a)
                continue
            except AssetIntegrityError:
                p.unlink()
        missing.append(a)
    if missing:
        if source == "pypi":
            _fetch_from_wheel(missing, dest)
        elif source == "url":
            _fetch_from_url(missing, dest)
        else:
            raise ValueError(f"source must be 'pypi' or 'url', got {source!r}")
    return {k: verify_file(dest / a.filename, a) for k, a in FACE_MODELS.items()}


def face_model_paths(download: bool = True, detector: str | os.PathLike | None = None,
                     landmarker: str | os.PathLike | None = None,
                     source: str = "pypi", detector_full: str | os.PathLike | None = None,
                     keys: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Paths of the verified face models, e.g. {"detector": ..., "landmarker": ...}.

    keys: which models (names in FACE_MODELS); default the two every pipeline needs, "detector"
    (short range) and "landmarker", plus "detector_full" when `detector_full` is given.
    Explicit `detector` / `detector_full` / `landmarker` paths are used as given (still
    sha256-checked). Otherwise the cache is used; when a model is missing or corrupt there,
    `download=True` fetches it (see `fetch_face_models`) and `download=False` raises AssetError /
    AssetIntegrityError telling the user to run `lrdif-setup`.
    """
    explicit = {"detector": detector, "detector_full": detector_full, "landmarker": landmarker}
    if keys is None:
        keys = tuple(k for k in ("detector", "detector_full", "landmarker")
                     if k != "detector_full" or detector_full is not None)
    unknown = [k for k in keys if k not in FACE_MODELS]
    if unknown:
        raise ValueError(f"unknown face model(s) {unknown}; known: {sorted(FACE_MODELS)}")
    out: dict[str, Path] = {}
    need_cache = [k for k in keys if explicit[k] is None]
    if need_cache:
        dest = face_models_dir()
        if download:
            cached = fetch_face_models(source=source)
        else:
            cached = {}
            for k in need_cache:
                a = FACE_MODELS[k]
                p = dest / a.filename
                if not p.exists():
                    raise AssetError(
                        f"{a.key} model {a.filename} is not in the cache {dest}; run `lrdif-setup` "
                        f"(or set $LRDIF_CACHE_DIR to a cache that holds it)")
                cached[k] = verify_file(p, a)
        out.update({k: cached[k] for k in need_cache})
    for k in keys:
        if explicit[k] is not None:
            out[k] = verify_file(explicit[k], FACE_MODELS[k])
    return out


def face_model_sha256(keys: tuple[str, ...] | None = None) -> dict[str, str]:
    """Pinned sha256 per face model (all of FACE_MODELS, or only `keys`)."""
    return {k: a.sha256 for k, a in FACE_MODELS.items() if keys is None or k in keys}


def sample_image() -> np.ndarray:
    """skimage.data.astronaut() (public domain, shipped inside the scikit-image package): RGB uint8 512x512x3."""
    from skimage import data

    img = np.ascontiguousarray(data.astronaut())
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise AssetError(f"unexpected astronaut sample: {img.dtype} {img.shape}")
    return img


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lrdif-setup", description="Fetch and verify lrdif's face models.")
    ap.add_argument("--source", choices=("pypi", "url"), default="pypi",
                    help="pypi: extract from the mediapipe==%s wheel (default); url: MediaPipe's "
                         "storage.googleapis.com assets" % MEDIAPIPE_WHEEL_VERSION)
    ap.add_argument("--force", action="store_true", help="fetch again even if the cache verifies")
    args = ap.parse_args(argv)
    try:
        paths = fetch_face_models(source=args.source, force=args.force)
    except AssetError as e:
        print(f"lrdif-setup: {e}", file=sys.stderr)
        return 1
    for k, p in paths.items():
        print(f"{k:13s} {p}  sha256={sha256_file(p)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
