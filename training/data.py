"""Tensor data path for training/evaluation: cached landmark crops held in memory, batched torch
augmentation (flip with FaceMesh mirror permutation, small affine), normalisation.

No per-sample Python work: a dataset becomes uint8 crops (N,3,S,S) + landmarks (N,468,2) once
(`prepare_crops`), and a batch is an index tensor.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lrdif.training.datasets import ArrayDataset
from lrdif.training.model.landmark_regions import FACEMESH_MIRROR  # owned by the model (mirror-averaged inference)
from lrdif.training.model.lrdif import mirror_landmarks

__all__ = ["FACEMESH_MIRROR", "CropTensors", "prepare_crops", "augment_batch", "normalise",
           "flip_batch", "PROJECT_ROOT", "shared_data_dir", "DEFAULT_DATA", "resolve_data_path"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`$LRDIF_SHARED_DATA`, else `<project root>/../shared/data`."""
    env = os.environ.get("LRDIF_SHARED_DATA")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"


DEFAULT_DATA = "ferplus/ferplus_48x48_uint8.npz"  # relative to shared_data_dir()


def resolve_data_path(p: str | os.PathLike | None) -> Path:
    """Resolve --data: None -> the shared FERPlus npz; an existing path (absolute or relative to the
    working directory) as is; otherwise a relative path is tried against the project root and then
    the shared data folder (`$LRDIF_SHARED_DATA` or `<project>/../shared/data`). The first existing
    candidate wins; if none exists the working-directory interpretation is returned (and the
    loader reports it as missing)."""
    if p is None:
        return shared_data_dir() / DEFAULT_DATA
    path = Path(p).expanduser()
    if path.exists() or path.is_absolute():
        return path
    for base in (PROJECT_ROOT, shared_data_dir()):
        if (base / path).exists():
            return base / path
    return path


# --------------------------------------------------------------------------- crops


@dataclass
class CropTensors:
    """Crops uint8 (N,3,S,S), landmarks float32 (N,468,2) in crop [0,1], labels int64 (N,),
    soft targets float32 (N,K) (vote distribution or one-hot), found bool (N,)."""
    crops: torch.Tensor
    landmarks: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor
    found: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx) -> "CropTensors":
        idx = torch.as_tensor(idx, dtype=torch.long)
        return CropTensors(self.crops[idx], self.landmarks[idx], self.labels[idx], self.targets[idx],
                           self.found[idx])


def prepare_crops(ds: ArrayDataset, size: int = 64, cache_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> tuple[CropTensors, dict]:
    """Landmark cache (computed by the SDK front-end, cached on disk by `lrdif.training.landmarks`)
    -> 64x64 crops cut by the cached affine, held in memory as torch uint8."""
    try:
        from lrdif.training.landmarks import apply_affine_crops, compute_landmark_cache
    except ImportError as e:  # pragma: no cover - depends on a sibling module
        raise RuntimeError(f"lrdif.training.landmarks is not available ({e})") from e
    from lrdif.sdk.metadata import CropSpec

    spec = CropSpec()  # the SDK contract crop (64 px); other sizes rescale its affine, so one cache serves all
    images = ds.images
    cache = compute_landmark_cache(images, spec=spec, cache_dir=cache_dir, progress=progress)
    affine = np.asarray(cache.affine, np.float64)
    if size != spec.size:  # pixel-centre convention: x' = k x + (k - 1) / 2
        k = size / spec.size
        affine = affine * k
        affine[:, :, 2] += 0.5 * (k - 1)
    crops = apply_affine_crops(images, affine.astype(np.float32), size)
    crops_t = torch.from_numpy(np.ascontiguousarray(np.asarray(crops, np.uint8).transpose(0, 3, 1, 2)))
    lm = torch.from_numpy(np.asarray(cache.landmarks, np.float32))
    found = torch.from_numpy(np.asarray(cache.found, bool))
    labels = torch.from_numpy(ds.labels.astype(np.int64))
    targets = torch.from_numpy(ds.targets().astype(np.float32))
    info = {"n": len(ds), "faces_found": int(found.sum()), "faces_missing": int((~found).sum()),
            "landmark_cache": str(getattr(cache, "path", "") or ""), "crop_size": size}
    return CropTensors(crops_t, lm, labels, targets, found), info


# --------------------------------------------------------------------------- batch ops


def normalise(x: torch.Tensor) -> torch.Tensor:
    """[0,1] -> (x - 0.5) / 0.5."""
    return (x - 0.5) / 0.5


def flip_batch(x: torch.Tensor, lm: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontally mirror the images where mask is True; landmarks: x -> 1 - x and left/right
    FaceMesh indices swapped (FACEMESH_MIRROR)."""
    if not bool(mask.any()):
        return x, lm
    x = x.clone()
    lm = lm.clone()
    x[mask] = x[mask].flip(-1)
    lm[mask] = mirror_landmarks(lm[mask])
    return x, lm


def random_affine(x: torch.Tensor, lm: torch.Tensor, generator: torch.Generator | None,
                  max_shift: float = 0.05, max_scale: float = 0.08, max_rot_deg: float = 8.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Small random shift (fraction of the side) / zoom / rotation, applied identically to the image
    (bilinear grid_sample, border padding) and its landmarks."""
    b = x.shape[0]
    dev = x.device
    u = torch.rand(b, 4, generator=generator).to(dev) * 2 - 1
    ang = u[:, 0] * math.radians(max_rot_deg)
    s = 1.0 + u[:, 1] * max_scale            # > 1 zooms in
    t = u[:, 2:4] * (2 * max_shift)          # normalised units ([-1,1] spans the side)
    cos, sin = torch.cos(ang), torch.sin(ang)
    A = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2) / s[:, None, None]
    theta = torch.cat([A, t[:, :, None]], dim=2).to(x.dtype)  # p_in = A p_out + t
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    xo = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    p_in = lm * 2 - 1                         # (B,468,2) normalised
    Ainv = torch.linalg.inv(A.to(lm.dtype))
    p_out = torch.einsum("bij,bnj->bni", Ainv, p_in - t[:, None, :].to(lm.dtype))
    return xo, (p_out + 1) / 2


def augment_batch(x: torch.Tensor, lm: torch.Tensor, generator: torch.Generator | None,
                  flip: bool = True, affine: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """x float (B,3,S,S) in [0,1], lm (B,468,2) -> augmented (same shapes)."""
    if flip:
        mask = torch.rand(x.shape[0], generator=generator) < 0.5
        x, lm = flip_batch(x, lm, mask.to(x.device))
    if affine:
        x, lm = random_affine(x, lm, generator)
    return x, lm


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
