"""Real face crops for int8 calibration and for verification of exported artifacts.

Both come from a dataset the user names (default: the shared FERPlus npz), through the same path
training uses: `lrdif.training.datasets.load_dataset` -> `lrdif.training.data.prepare_crops`
(the SDK's own face front-end, cached per dataset by `lrdif.training.landmarks`) ->
`lrdif.training.degrade.degrade_images` on the 64x64 crops. Each set keeps the uint8 crops (what the
SDK's backends take) and their model input made by the SDK's own `lrdif.sdk.backends.preprocess`
from the model's metadata (what torch and the calibrators take).

- calibration: `n` class-balanced crops from the training split (round-robin over classes, so a
  rare class short of n/K samples gives its place to the others; the class counts are reported),
  degradation kinds cycling clean / udc-toled / udc-poled / lowlight: the training distribution.
- verification: `n` random crops of the test split (FERPlus PrivateTest), as they come (natural class
  mix, so accuracies are comparable with the paper's), clean and UDC (half TOLED, half POLED).

No silent fallback: a missing file, or fewer usable samples than asked for, raises `DataError`.
A dataset without split information (e.g. the 64-image test file) is used whole; that is recorded
in `FaceSet.info["split"]`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CALIB_KINDS = ("none", "udc-toled", "udc-poled", "lowlight")
MIN_CALIB = 300
DEFAULT_CALIB = 1200   # lrdif-export's --calib-size: chosen on PublicTest (export/README.md)


class DataError(RuntimeError):
    """Calibration / verification data missing or unusable."""


@dataclass
class FaceSet:
    name: str
    crops: np.ndarray        # (N, S, S, 3) uint8 RGB: the SDK backends' input
    image: np.ndarray        # (N, 3, S, S) float32: preprocess(crops, metadata), the model's input
    landmarks: np.ndarray    # (N, 468, 2) float32, crop-normalised [0, 1]
    labels: np.ndarray       # (N,) int64
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _load(path: str | os.PathLike, split: str, classes: int):
    from lrdif.training.datasets import DatasetError, load_dataset

    p = Path(path)
    if not p.exists():
        raise DataError(f"data not found: {p}")
    try:
        ds = load_dataset(p, split=split, classes=classes)
        used = split
    except DatasetError as e:
        if "no train/test split" not in str(e):
            raise DataError(str(e)) from None
        ds = load_dataset(p, split=None, classes=classes)
        used = "all (the dataset has no split information)"
    return ds, used


def _crops(ds, idx: np.ndarray, size: int, progress: bool):
    from lrdif.training.data import prepare_crops

    sub = ds.subset(np.asarray(idx, dtype=np.int64))
    ct, info = prepare_crops(sub, size=size, progress=progress)
    crops = ct.crops.numpy().transpose(0, 2, 3, 1)  # (N, S, S, 3) uint8
    return crops, ct.landmarks.numpy().astype(np.float32), ct.labels.numpy().astype(np.int64), info


def _degrade(crops: np.ndarray, kinds: np.ndarray, seed: int) -> np.ndarray:
    from lrdif.training.degrade import degrade_images

    out = crops.copy()
    for k in np.unique(kinds):
        if k == "none":
            continue
        m = kinds == k
        out[m] = degrade_images(np.ascontiguousarray(crops[m]), str(k), seed=seed, progress=False)
    return out


def _meta(meta, size: int):
    from lrdif.sdk.metadata import CropSpec, ModelMetadata
    return meta if meta is not None else ModelMetadata(input_size=size, crop=CropSpec(size=size))


def _faceset(name: str, crops: np.ndarray, lm, labels, meta, info: dict) -> FaceSet:
    from lrdif.sdk.backends.base import preprocess
    return FaceSet(name, crops, preprocess(crops, meta), lm, labels, info=info)


def balanced_indices(labels: np.ndarray, n: int, classes: int, seed: int) -> np.ndarray:
    """`n` indices, round-robin over the classes in a seeded random order within each class."""
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(classes)]
    out: list[int] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(int(pool.pop()))
    return np.sort(np.asarray(out, dtype=np.int64))


def load_calibration(path: str | os.PathLike, n: int, classes: int, size: int = 64, seed: int = 0,
                     progress: bool = False, meta=None) -> FaceSet:
    """`meta`: the model's `ModelMetadata` (normalisation); default: the contract at `size`."""
    meta = _meta(meta, size)
    ds, used = _load(path, "train", classes)
    idx = balanced_indices(np.asarray(ds.labels), n, classes, seed)
    if len(idx) < n:
        raise DataError(f"calibration data {path} has only {len(idx)} usable samples, {n} requested")
    crops, lm, labels, info = _crops(ds, idx, size, progress)
    kinds = np.array([CALIB_KINDS[i % len(CALIB_KINDS)] for i in range(len(idx))])
    crops = _degrade(crops, kinds, seed)
    counts = np.bincount(labels, minlength=classes)
    return _faceset("calibration", crops, lm, labels, meta, info={
        "path": str(path), "split": used, "n": int(len(idx)), "class_counts": counts.tolist(),
        "kinds": {k: int((kinds == k).sum()) for k in CALIB_KINDS}, "faces_found": info.get("faces_found"),
        "seed": seed})


def load_verification(path: str | os.PathLike, n: int | None, classes: int, size: int = 64, seed: int = 1,
                      progress: bool = False, meta=None) -> dict[str, FaceSet]:
    """Clean and UDC sets of `n` random test-split faces (None: all of them)."""
    meta = _meta(meta, size)
    ds, used = _load(path, "test", classes)
    total = len(ds)
    n = total if n is None else n
    if total < n:
        raise DataError(f"verification data {path} ({used}) has only {total} samples, {n} requested "
                        f"(lower --verify-size)")
    idx = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
    crops, lm, labels, info = _crops(ds, idx, size, progress)
    kinds = np.array(["udc-toled" if i % 2 == 0 else "udc-poled" for i in range(n)])
    udc = _degrade(crops, kinds, seed)
    base = {"path": str(path), "split": used, "n": n, "faces_found": info.get("faces_found"), "seed": seed,
            "class_counts": np.bincount(labels, minlength=classes).tolist()}
    return {
        "clean": _faceset("clean", crops, lm, labels, meta, info=dict(base, kinds={"none": n})),
        "udc": _faceset("udc", udc, lm, labels, meta,
                       info=dict(base, kinds={k: int((kinds == k).sum()) for k in ("udc-toled", "udc-poled")})),
    }
