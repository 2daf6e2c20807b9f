"""FERPlus PrivateTest eval sets per condition: exactly the inputs `lrdif-eval` feeds torch.

Crops and landmarks come from the landmark cache computed on the WHOLE file, then the split is
selected (as `lrdif-eval` does, so the cache key is shared): `lrdif.training.data.prepare_crops`,
i.e. the SDK front-end run once per dataset. Degraded conditions replay `lrdif-eval`'s on-the-fly
degradation bit for bit: `make_degradation(kind)` on the uint8 crops / 255 in batches of
EVAL_BATCH with the generator `lrdif.training.inference.rng_for(seed, 12345)` (fresh per kind); the
degradations quantise to 8-bit levels, so storing them as uint8 is lossless.

The published numbers use the CANONICAL test sets instead (training/DEGRADATIONS.md): the whole
48x48 images degraded once by `lrdif-degrade --kind K --seed 0 --size 64 --split 1,2` and stored as
`<canonical_dir>/ferplus_test_<K>_s0_64.npz`. For those, crops and landmarks come from the SDK
front-end run on the DEGRADED images (as `lrdif-eval --data <that file>` does, same landmark cache),
so the benchmark scores exactly what the model card reports. A kind without its canonical file falls
back to the on-the-fly replay above, and the results say which source each condition used.

Each condition is written once to `<cache>/evalsets/<key>/<kind>.npz` (crops uint8 NHWC, landmarks,
labels, gray64 for the peer) with its sha256 recorded in the results.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def _shared() -> Path:
    """The shared data folder (the one lookup: `lrdif.training.data.shared_data_dir`)."""
    from lrdif.training.data import shared_data_dir
    return shared_data_dir()


SHARED = _shared()
FERPLUS = SHARED / "ferplus" / "ferplus_48x48_uint8.npz"
FERPLUS_TINY = SHARED / "ferplus" / "ferplus_tiny64_48x48_uint8.npz"
CONDITION_NAMES = {"none": "clean", "udc-toled": "UDC-T", "udc-poled": "UDC-P", "lowlight": "low-light"}
EVAL_SEED = 0        # lrdif-eval --seed default
EVAL_BATCH = 256     # lrdif-eval --batch-size default (the degradation's random draws follow it)


def canonical_seed(kind: str) -> tuple[int, str]:
    return EVAL_SEED, "lrdif-eval default --seed 0, generator rng_for(seed, 12345), batch 256"


def degrade_like_eval(crops_u8: np.ndarray, kind: str, seed: int = EVAL_SEED) -> np.ndarray:
    """(N,S,S,3) uint8 -> the degraded uint8 crops lrdif-eval's predict_logits feeds the model."""
    import torch
    from lrdif.training.degrade import make_degradation
    from lrdif.training.inference import rng_for
    deg = make_degradation(kind)
    gen = rng_for(seed, 12345)
    x_all = torch.from_numpy(np.ascontiguousarray(crops_u8.transpose(0, 3, 1, 2)))
    out = np.empty_like(crops_u8)
    with torch.no_grad():
        for i in range(0, len(x_all), EVAL_BATCH):
            x = x_all[i:i + EVAL_BATCH].float() / 255.0
            y = deg(x, gen).clamp_(0, 1)
            out[i:i + EVAL_BATCH] = torch.round(y * 255.0).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def canonical_file(canonical_dir: Path | None, kind: str, size: int) -> Path | None:
    """The `lrdif-degrade` canonical set for `kind` (None when absent or not asked for)."""
    if canonical_dir is None or kind == "none":
        return None
    p = Path(canonical_dir) / f"ferplus_test_{kind}_s0_{size}.npz"
    return p if p.is_file() else None


def build(conditions: list[str], size: int, cdir: Path, data: Path | None = None, smoke: bool = False,
          limit: int | None = None, log=print, canonical_dir: Path | None = None) -> dict:
    """-> {"sets": {kind: npz path}, "info": {...}}. `canonical_dir`: where the canonical
    `lrdif-degrade` sets live (used for every kind whose file exists there; not in smoke mode)."""
    from lrdif.training.datasets import load_dataset
    if data is None:
        data = FERPLUS_TINY if smoke else FERPLUS
    data = Path(data)
    ds_all = load_dataset(data, None, 8)
    if ds_all.split is not None and (ds_all.split == 2).any():
        idx, split = np.flatnonzero(ds_all.split == 2), "PrivateTest (split==2)"
    else:
        idx, split = np.arange(len(ds_all)), "all (file has no split)"
    if limit:
        idx = idx[:limit]
    labels = np.asarray(ds_all.labels[idx], np.int64)
    h = hashlib.sha256(np.ascontiguousarray(ds_all.images[idx]).tobytes()).hexdigest()[:16]
    key = f"{data.stem}-{h}-n{len(idx)}-s{size}-v4"
    folder = Path(cdir) / "evalsets" / key
    folder.mkdir(parents=True, exist_ok=True)
    info = {"data": str(data), "split": split, "n": int(len(idx)), "size": size, "key": key,
            "label_counts": np.bincount(labels, minlength=8).tolist(), "conditions": {}}
    clean = folder / "none.npz"
    if not clean.exists():
        from lrdif.training.data import prepare_crops
        log(f"   crops + landmarks (landmark cache over all {len(ds_all)} images of {data.name})")
        ct, cinfo = prepare_crops(ds_all, size=size, progress=False)
        ct = ct.subset(idx)
        crops = ct.crops.numpy().transpose(0, 2, 3, 1).copy()
        images = ds_all.images[idx]
        native_rgb = np.repeat(images[..., None], 3, -1) if images.ndim == 3 else images
        extra = {"votes": ds_all.votes[idx]} if ds_all.votes is not None else {}
        _save(clean, crops=crops, landmarks=ct.landmarks.numpy(), labels=labels, found=ct.found.numpy(), **extra,
              gray64=_gray64(crops), gray64_native=_gray64(native_rgb),
              meta=json.dumps({"kind": "none", "seed": None}))
    base = np.load(clean)
    info["faces_found"] = int(base["found"].sum())
    sets = {"none": clean}
    info["conditions"]["none"] = {"seed": None}
    for kind in conditions:
        if kind == "none":
            continue
        canon = None if smoke else canonical_file(canonical_dir, kind, size)
        if canon is not None:
            csha = _sha(canon)
            p = folder / f"{kind}__canonical-{csha[:16]}.npz"
            info["conditions"][kind] = {"source": "canonical", "file": str(canon), "file_sha256": csha}
            if not p.exists():
                log(f"   {kind}: canonical set {canon.name} (crops + landmarks from the degraded images)")
                _save(p, **_canonical_crops(canon, base["labels"], size, limit),
                      meta=json.dumps({"kind": kind, "source": str(canon), "sha256": csha}))
            sets[kind] = p
            info["conditions"][kind]["sha256"] = _sha(p)
            continue
        seed, src = canonical_seed(kind)
        p = folder / f"{kind}.npz"
        info["conditions"][kind] = {"source": "on-the-fly", "seed": seed, "seed_source": src}
        if not p.exists():
            log(f"   degrading {len(base['crops'])} crops: {kind} (as lrdif-eval, seed {seed})")
            deg = degrade_like_eval(base["crops"], kind, seed)
            extra = {"votes": base["votes"]} if "votes" in base.files else {}
            _save(p, crops=deg, landmarks=base["landmarks"], labels=base["labels"], found=base["found"], **extra,
                  gray64=_gray64(deg), meta=json.dumps({"kind": kind, "seed": seed, "seed_source": src}))
        sets[kind] = p
        info["conditions"][kind]["sha256"] = _sha(p)
    info["conditions"]["none"]["sha256"] = _sha(clean)
    return {"sets": {k: str(v) for k, v in sets.items()}, "info": info}


def _canonical_crops(canon: Path, base_labels: np.ndarray, size: int, limit: int | None) -> dict:
    """Crops/landmarks of the canonical file's PrivateTest rows, as `lrdif-eval --data canon` cuts them."""
    from lrdif.training.data import prepare_crops
    from lrdif.training.datasets import load_dataset
    ds = load_dataset(canon, None, 8)
    if ds.split is None or not (ds.split == 2).any():
        raise ValueError(f"{canon}: canonical set has no PrivateTest rows (split == 2)")
    idx = np.flatnonzero(ds.split == 2)
    if limit:
        idx = idx[:limit]
    labels = np.asarray(ds.labels[idx], np.int64)
    if len(idx) != len(base_labels) or not np.array_equal(labels, base_labels):
        raise ValueError(f"{canon}: its PrivateTest labels do not match the clean set's ({len(idx)} vs "
                         f"{len(base_labels)} rows): regenerate it with lrdif-degrade (training/DEGRADATIONS.md)")
    ct, _ = prepare_crops(ds, size=size, progress=False)      # landmark cache over the whole canonical file
    ct = ct.subset(idx)
    crops = ct.crops.numpy().transpose(0, 2, 3, 1).copy()
    out = {"crops": crops, "landmarks": ct.landmarks.numpy(), "labels": labels, "found": ct.found.numpy(),
           "gray64": _gray64(crops)}
    if ds.votes is not None:
        out["votes"] = ds.votes[idx]
    return out


def _gray64(rgb: np.ndarray) -> np.ndarray:
    import cv2
    out = np.empty((len(rgb), 64, 64), np.uint8)
    for i, im in enumerate(rgb):
        g = cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY)
        out[i] = cv2.resize(g, (64, 64), interpolation=cv2.INTER_LINEAR)
    return out


def _sha(p: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(p).read_bytes())
    return h.hexdigest()


def _save(path: Path, **arrays) -> None:
    from lrdif.sdk.fileio import atomic_write
    atomic_write(path, lambda f: np.savez(f, **arrays))
