"""sRGB transfer functions and 8-bit quantisation (IEC 61966-2-1), batched torch."""
from __future__ import annotations

import torch

__all__ = ["srgb_to_linear", "linear_to_srgb", "quantise_8bit", "luminance"]


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values in [0, 1] -> linear light (exact piecewise sRGB EOTF)."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(y: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] -> sRGB-encoded values (exact piecewise inverse EOTF)."""
    y = y.clamp(0.0, 1.0)
    return torch.where(y <= 0.0031308, y * 12.92, 1.055 * y.clamp_min(0.0031308) ** (1.0 / 2.4) - 0.055)


def quantise_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round to the 256 levels of an 8-bit image (what the camera writes out)."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


def luminance(y: torch.Tensor) -> torch.Tensor:
    """Rec.709 / sRGB relative luminance of linear RGB (B,3,H,W) -> (B,1,H,W)."""
    w = torch.tensor([0.2126, 0.7152, 0.0722], dtype=y.dtype, device=y.device).view(1, 3, 1, 1)
    return (y * w).sum(dim=1, keepdim=True)
