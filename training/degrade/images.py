"""`degrade_images`: numpy uint8 images in, degraded RGB uint8 images out, reproducibly."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .core import Degradation, make_degradation

__all__ = ["degrade_images", "resize_images", "BLOCK", "block_generator"]

BLOCK = 64  # randomness is drawn per block of 64 consecutive images -> independent of batch_size


def block_generator(seed: int, block: int, device="cpu") -> torch.Generator:
    """Generator for block `block` of a run with `seed` (SeedSequence-mixed, so blocks and seeds
    give unrelated streams)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(block)]).generate_state(2, dtype=np.uint32)
    g = torch.Generator(device=device)
    g.manual_seed(int(state[0]) << 32 | int(state[1]))
    return g


def _as_rgb_float(images: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    if t.ndim == 3:
        t = t.unsqueeze(1).expand(-1, 3, -1, -1)
    else:
        t = t.permute(0, 3, 1, 2)
    return t.contiguous()


def resize_images(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Bilinear resize of (B, 3, H, W) to size x size (antialiased when shrinking = area-like)."""
    if size is None or (x.shape[-2] == size and x.shape[-1] == size):
        return x
    shrink = size < x.shape[-2] or size < x.shape[-1]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink).clamp(0, 1)


def validate_images(images, where: str = "images") -> None:
    if not isinstance(images, np.ndarray):
        raise ValueError(f"{where}: expected a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"{where}: expected dtype uint8, got {images.dtype}")
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
        raise ValueError(f"{where}: expected shape (N, H, W) gray or (N, H, W, 3) RGB, got {images.shape}")
    if images.shape[1] < 8 or images.shape[2] < 8:
        raise ValueError(f"{where}: images are too small ({images.shape[1]}x{images.shape[2]})")


def degrade_images(images: np.ndarray, kind: str | Degradation, seed: int, size: int | None = None,
                   batch_size: int = 256, progress: bool = True, **overrides) -> np.ndarray:
    """Degrade uint8 images (N, H, W) gray or (N, H, W, 3) RGB -> (N, size, size, 3) uint8 RGB.

    Images are resized first (bilinear; antialiased when shrinking), then degraded in batches of
    `batch_size`.  Image i's randomness comes from the generator of its 64-image block
    (`block_generator(seed, i // 64)`), so the output depends on `seed` only, not on batch_size."""
    validate_images(images)
    deg = kind if isinstance(kind, Degradation) else make_degradation(kind, **overrides)
    n = images.shape[0]
    out_size = size or images.shape[1]
    if size is None and images.shape[1] != images.shape[2]:
        raise ValueError(f"images: non-square {images.shape[1]}x{images.shape[2]}; pass size=")
    out = np.empty((n, out_size, out_size, 3), np.uint8)
    bs = max(BLOCK, (int(batch_size) // BLOCK) * BLOCK)
    from tqdm.auto import tqdm
    with torch.inference_mode(), tqdm(total=n, desc=f"degrade {deg.kind}", unit="img", disable=not progress) as bar:
        for start in range(0, n, bs):
            x = resize_images(_as_rgb_float(images[start:start + bs]), size)
            ys = []
            for b0 in range(0, x.shape[0], BLOCK):
                g = block_generator(seed, (start + b0) // BLOCK)
                ys.append(deg(x[b0:b0 + BLOCK], g))
            y = torch.cat(ys)
            out[start:start + bs] = torch.round(y * 255.0).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            bar.update(x.shape[0])
    return out
