"""The one int8 (de)quantisation rule for integer model tensors (LiteRT tensors with int8/uint8
dtype and a per-tensor `(scale, zero_point)`): q = clip(round(x / scale) + zp), x = (q - zp) * scale.

Used by the LiteRT backend and by the benchmarks' peer model; float tensors pass through.
"""
from __future__ import annotations

import numpy as np

__all__ = ["quantise", "dequantise", "is_integer"]


def is_integer(dtype) -> bool:
    return np.dtype(dtype) in (np.dtype(np.int8), np.dtype(np.uint8))


def quantise(x: np.ndarray, dtype, quantization: "tuple[float, int]") -> np.ndarray:
    """Float `x` -> the tensor's `dtype` with its `(scale, zero_point)`; float dtypes: a cast."""
    if not is_integer(dtype):
        return np.asarray(x, dtype=dtype)
    scale, zp = quantization
    if not scale:
        raise ValueError(f"integer tensor of dtype {np.dtype(dtype).name} has no quantisation scale")
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x, np.float32) / scale) + zp, info.min, info.max).astype(dtype)


def dequantise(q: np.ndarray, quantization: "tuple[float, int]") -> np.ndarray:
    """An output tensor -> float32 (integer tensors with their `(scale, zero_point)`; a zero scale
    means 'not quantised': a plain cast)."""
    q = np.asarray(q)
    if not is_integer(q.dtype):
        return q.astype(np.float32, copy=False)
    scale, zp = quantization
    if not scale:
        return q.astype(np.float32)
    return (q.astype(np.float32) - zp) * scale
