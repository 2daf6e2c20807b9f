"""Training data for `lrdif-train`: load the dataset, cut the crops once (landmark cache), split
train / validation (PublicTest when the file has a split, else a fixed 10% hold-out) and optionally
drop training images that duplicate a test image."""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

import numpy as np

from lrdif.training.errors import TrainError

__all__ = ["dedup_against_test", "split_indices", "prepare_data"]


def _image_hashes(images: np.ndarray) -> list[bytes]:
    return [hashlib.blake2b(im.tobytes(), digest_size=16).digest() for im in images]


def dedup_against_test(images: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, dict]:
    """Boolean keep-mask over all rows: False for TRAINING rows whose pixels exactly equal a
    PublicTest/PrivateTest image. Returns (keep, info)."""
    hashes = _image_hashes(images)
    test_h = {h for h, s in zip(hashes, split) if s in (1, 2)}
    keep = np.ones(len(images), bool)
    for i, (h, s) in enumerate(zip(hashes, split)):
        if s == 0 and h in test_h:
            keep[i] = False
    groups = {h for h, s in zip(hashes, split) if s == 0 and h in test_h}
    return keep, {"dedup_removed_train_images": int((~keep).sum()), "dedup_groups_spanning": len(groups)}


def _hold_out(idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.RandomState(1234).permutation(idx)
    return np.sort(perm[:k]), np.sort(perm[k:])


def split_indices(ds, dedup: bool, val_size: int, log: Callable[[str], None] = lambda m: None
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(train indices, validation indices, info) of a dataset."""
    info: dict[str, Any] = {}
    n = len(ds)
    if ds.split is not None:
        train_mask = ds.split == 0
        val_idx = np.flatnonzero(ds.split == 1)
        val_src = "PublicTest (split 1)"
        if dedup:
            keep, dinfo = dedup_against_test(ds.images, ds.split)
            train_mask &= keep
            info.update(dinfo)
            log(f"--dedup: removed {dinfo['dedup_removed_train_images']} training images that duplicate a "
                f"test-split image ({dinfo['dedup_groups_spanning']} distinct images)")
        train_idx = np.flatnonzero(train_mask)
        if len(val_idx) == 0:  # e.g. RAF-DB / KDEF: hold out 10% of train
            val_idx, train_idx = _hold_out(train_idx, max(1, len(train_idx) // 10))
            val_src = "10% of the training split (held out)"
    elif n >= 200:
        val_idx, train_idx = _hold_out(np.arange(n), n // 10)
        val_src = "10% held out (no split in the data)"
    else:
        train_idx, val_idx = np.arange(n), np.arange(n)
        val_src = "the training images (tiny set without a split; not a real validation)"
        if dedup:
            log("--dedup ignored: the data has no split")
    if val_size and len(val_idx) > val_size:
        val_idx = np.sort(np.random.RandomState(4321).choice(val_idx, val_size, replace=False))
    info.update({"n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "val_source": val_src})
    return train_idx, val_idx, info


def prepare_data(args, dist, classes: int, input_size: int, log: Callable[[str], None]):
    """(train CropTensors, validation CropTensors, info). Rank 0 computes (and writes) the landmark
    disk cache first, the other ranks then read it."""
    from lrdif.training.data import prepare_crops, resolve_data_path
    from lrdif.training.datasets import DatasetError, load_dataset

    path = resolve_data_path(args.data)
    try:
        ds = load_dataset(path, split=None, classes=classes, progress=dist.main and not args.no_progress)
    except DatasetError as e:
        raise TrainError(str(e)) from None
    if len(ds) == 0:
        raise TrainError(f"{path}: dataset is empty")
    info: dict[str, Any] = {"data": str(path), "dataset": ds.name, "n_total": len(ds), "classes": classes}
    t0 = time.time()
    try:
        if dist.main:
            crops, cinfo = prepare_crops(ds, size=input_size, cache_dir=args.cache_dir, progress=not args.no_progress)
        dist.barrier()
        if not dist.main:
            crops, cinfo = prepare_crops(ds, size=input_size, cache_dir=args.cache_dir, progress=False)
    except (RuntimeError, OSError, ValueError) as e:
        raise TrainError(f"cannot compute the face crops / landmark cache for {path}: {e}") from None
    info.update(cinfo)
    info["crop_seconds"] = round(time.time() - t0, 1)
    train_idx, val_idx, sinfo = split_indices(ds, args.dedup, args.val_size, log)
    if len(train_idx) == 0:
        raise TrainError(f"{path}: no training images")
    info.update(sinfo)
    return crops.subset(train_idx), crops.subset(val_idx), info


