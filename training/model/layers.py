"""Export-friendly building blocks (conv, linear, matmul, softmax, GELU, elementwise only).

Normalisations are written as mean / rsqrt (no nn.LayerNorm, no F.normalize): XNNPACK in
ExecuTorch does not take LayerNorm / normalize well (see shared/notes/toolchain.md).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LayerNormLast(nn.Module):
    """LayerNorm over the last dim, as (x - mean) * rsqrt(var + eps) * w + b.

    The means are a linear map with a constant (1, dim) averaging row: XNNPACK only delegates
    mean.dim over the two spatial dims of a 4-D tensor, but takes linear everywhere."""

    def __init__(self, dim: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None
        self.register_buffer("avg", torch.full((1, dim), 1.0 / dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = F.linear(x, self.avg)
        xc = x - mu
        var = F.linear(xc * xc, self.avg)
        y = xc * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y


class LayerNorm2d(nn.Module):
    """Channel-wise LayerNorm of an NCHW map (Restormer's WithBias_LayerNorm), via mean / rsqrt.

    The channel means are a fixed 1x1 conv (weights 1/dim), which every backend delegates."""

    def __init__(self, dim: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1)) if affine else None
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1)) if affine else None
        self.register_buffer("avg", torch.full((1, dim, 1, 1), 1.0 / dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = F.conv2d(x, self.avg)
        xc = x - mu
        var = F.conv2d(xc * xc, self.avg)
        y = xc * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y


def l2_normalise_last(x: torch.Tensor, ones: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """x / ||x|| along the last dim, as x * rsqrt(sum(x^2) + eps) with the sum a linear map with a
    constant (1, n) ones row (instead of F.normalize / sum.dim, which XNNPACK does not take)."""
    return x * torch.rsqrt(F.linear(x * x, ones) + eps)


def bmm4(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, H, M, K) @ (B, H, K, N) as one 3-D bmm. torch.matmul on 4-D tensors decomposes into
    expand + view + bmm, and the (no-op) expand_copy is not delegated by XNNPACK: it split the graph."""
    bb, h, m, k = a.shape
    n = b.shape[-1]
    return torch.bmm(a.reshape(bb * h, m, k), b.reshape(bb * h, k, n)).reshape(bb, h, m, n)


class ZModulatedNorm(nn.Module):
    """Eq. 2: F' = (W1 Z) o LN(F) + W2 Z, with W1 / W2 linear maps of the EPR Z (C -> dim).

    W1's bias starts at 1 and W2 at 0, so at initialisation F' = LN(F) (+ small Z-dependent terms).
    """

    def __init__(self, dim: int, epr_dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = LayerNorm2d(dim, eps, affine=False)
        self.w1 = nn.Linear(epr_dim, dim)
        self.w2 = nn.Linear(epr_dim, dim)
        nn.init.normal_(self.w1.weight, std=0.02)
        nn.init.ones_(self.w1.bias)
        nn.init.normal_(self.w2.weight, std=0.02)
        nn.init.zeros_(self.w2.bias)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[0], x.shape[1]
        scale = self.w1(z).reshape(b, c, 1, 1)
        shift = self.w2(z).reshape(b, c, 1, 1)
        return self.norm(x) * scale + shift


class DMNet(nn.Module):
    """Eq. 3: multi-head transposed (channel) attention, Q/K/V by 1x1 + 3x3 depthwise conv,
    attention map (C'' x C'') scaled by a learnable per-head temperature alpha."""

    def __init__(self, dim: int, heads: int, hw: int) -> None:
        super().__init__()
        self.heads = heads
        self.register_buffer("ones_hw", torch.ones(1, hw), persistent=False)
        self.temperature = nn.Parameter(torch.ones(1, heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1)
        self.qkv_dw = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv_dw(self.qkv(x))
        q, k, v = qkv[:, :c], qkv[:, c:2 * c], qkv[:, 2 * c:]          # slices, not split
        ch = c // self.heads
        q = q.reshape(b, self.heads, ch, h * w)
        k = k.reshape(b, self.heads, ch, h * w)
        v = v.reshape(b, self.heads, ch, h * w)
        q = l2_normalise_last(q, self.ones_hw)
        k = l2_normalise_last(k, self.ones_hw)
        attn = bmm4(q, k.transpose(-2, -1)) * self.temperature
        attn = attn.softmax(dim=-1)
        out = bmm4(attn, v).reshape(b, c, h, w)
        return self.proj(out)


class DGNet(nn.Module):
    """Eq. 4: gated FFN, GELU(dw3x3(1x1(F'))) o dw3x3(1x1(F')), then 1x1 back to dim."""

    def __init__(self, dim: int, expansion: float) -> None:
        super().__init__()
        hidden = int(round(dim * expansion))
        self.hidden = hidden
        self.project_in = nn.Conv2d(dim, hidden * 2, 1)
        self.dw = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2)
        self.project_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(self.project_in(x))
        x1, x2 = y[:, :self.hidden], y[:, self.hidden:]
        return self.project_out(F.gelu(x1) * x2)


class DTBlock(nn.Module):
    """DTNet block: F <- F + DMNet(norm_Z(F)); F <- F + DGNet(norm_Z(F))  (eqs. 2-4)."""

    def __init__(self, dim: int, heads: int, expansion: float, epr_dim: int, eps: float, hw: int) -> None:
        super().__init__()
        self.norm1 = ZModulatedNorm(dim, epr_dim, eps)
        self.attn = DMNet(dim, heads, hw)
        self.norm2 = ZModulatedNorm(dim, epr_dim, eps)
        self.ffn = DGNet(dim, expansion)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x, z))
        x = x + self.ffn(self.norm2(x, z))
        return x


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop) if drop > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


def _relative_position_onehot(ws: int) -> torch.Tensor:
    """(ws^2 * ws^2, (2ws-1)^2) one-hot matrix mapping each (query, key) pair of a ws x ws window to
    its Swin relative-position index, so the bias is a matmul with the table (no gather op)."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    idx = (rel[0] + ws - 1) * (2 * ws - 1) + (rel[1] + ws - 1)
    return F.one_hot(idx.reshape(-1), (2 * ws - 1) ** 2).float()


class WindowCrossAttention(nn.Module):
    """Eqs. 5-7: per non-overlapping window, Q from landmark tokens, K/V from image tokens,
    softmax(Q K^T / sqrt(d) + b) V per head, relative position bias b (Swin table), output W_O."""

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_onehot", _relative_position_onehot(window), persistent=False)

    def forward(self, q_tokens: torch.Tensor, kv_tokens: torch.Tensor) -> torch.Tensor:
        # q_tokens, kv_tokens: (B*nW, N, D) with N = window^2
        bw, n, d = kv_tokens.shape
        hd = d // self.heads
        q = self.q(q_tokens).reshape(bw, n, self.heads, hd).transpose(1, 2)
        kv = self.kv(kv_tokens)
        k, v = kv[..., :d], kv[..., d:]
        k = k.reshape(bw, n, self.heads, hd).transpose(1, 2)
        v = v.reshape(bw, n, self.heads, hd).transpose(1, 2)
        bias = torch.matmul(self.bias_onehot, self.bias_table)          # (N*N, heads)
        bias = bias.transpose(0, 1).reshape(1, self.heads, n, n)
        attn = bmm4(q * self.scale, k.transpose(-2, -1)) + bias
        attn = attn.softmax(dim=-1)
        out = bmm4(attn, v).transpose(1, 2).reshape(bw, n, d)
        return self.proj(out)


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * H/ws * W/ws, ws*ws, C)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // ws, ws, w // ws, ws)
    x = x.permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b * (h // ws) * (w // ws), ws * ws, c)


def window_reverse(t: torch.Tensor, ws: int, b: int, h: int, w: int) -> torch.Tensor:
    """(B * nW, ws*ws, C) -> (B, C, H, W)."""
    c = t.shape[-1]
    x = t.reshape(b, h // ws, w // ws, ws, ws, c)
    x = x.permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h, w)


class DILBlock(nn.Module):
    """DILNet transformer encoder (eqs. 8-9): X' = MHCA(LN(X_udc), LN(X_flm)) + X_udc;
    X'' = MLP(LN(X')) + X'. Works on NCHW maps, attention inside non-overlapping windows."""

    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.window = window
        self.norm_img = LayerNormLast(dim, eps)
        self.norm_lm = LayerNormLast(dim, eps)
        self.attn = WindowCrossAttention(dim, heads, window)
        self.norm2 = LayerNormLast(dim, eps)
        self.mlp = Mlp(dim, int(round(dim * mlp_ratio)))

    def forward(self, img: torch.Tensor, lm: torch.Tensor) -> torch.Tensor:
        b, c, h, w = img.shape
        ws = self.window
        x = window_partition(img, ws)
        q = window_partition(lm, ws)
        x = x + self.attn(self.norm_lm(q), self.norm_img(x))
        x = x + self.mlp(self.norm2(x))
        return window_reverse(x, ws, b, h, w)


class SelfAttention(nn.Module):
    """Plain multi-head self-attention with matmul + softmax (no SDPA: every exporter takes it)."""

    def __init__(self, dim: int, heads: int, drop: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(drop) if drop > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        hd = d // self.heads
        qkv = self.qkv(x)
        q = qkv[..., :d].reshape(b, n, self.heads, hd).transpose(1, 2)
        k = qkv[..., d:2 * d].reshape(b, n, self.heads, hd).transpose(1, 2)
        v = qkv[..., 2 * d:].reshape(b, n, self.heads, hd).transpose(1, 2)
        attn = bmm4(q * self.scale, k.transpose(-2, -1)).softmax(dim=-1)
        out = bmm4(self.drop(attn), v).transpose(1, 2).reshape(b, n, d)
        return self.drop(self.proj(out))


class TransformerBlock(nn.Module):
    """Eqs. 11-12: X' = MSA(LN(X)) + X; y' = MLP(LN(X')) + X'."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop: float, eps: float) -> None:
        super().__init__()
        self.norm1 = LayerNormLast(dim, eps)
        self.attn = SelfAttention(dim, heads, drop)
        self.norm2 = LayerNormLast(dim, eps)
        self.mlp = Mlp(dim, int(round(dim * mlp_ratio)), drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class ResBlock(nn.Module):
    """conv3x3-BN-GELU-conv3x3-BN + identity (BN folds into the conv at export)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.bn1(self.conv1(x)))
        return F.gelu(x + self.bn2(self.conv2(y)))


class ConvEncoder(nn.Module):
    """Small CNN image encoder -> global vector: per stage a stride-2 conv then a residual block,
    global average pool. Used as FPEN_S1's own image encoder (stands in for CLIP E_I) and as
    PNET_S2's trunk (LLDif: 'convolutional layer, residual layer and linear layer')."""

    def __init__(self, in_chans: int, dims: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_chans
        for d in dims:
            layers += [nn.Conv2d(c, d, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(d),
                       nn.GELU(), ResBlock(d)]
            c = d
        self.body = nn.Sequential(*layers)
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3), keepdim=True).flatten(1)   # 4-D spatial mean: delegable


def sinusoidal_table(steps: int, dim: int, ref_steps: int) -> torch.Tensor:
    """(steps + 1, dim) time features; row t encodes position t / steps * ref_steps, so a chain with
    a different step count maps onto the same time axis the denoiser was trained on."""
    half = dim // 2
    freqs = torch.exp(-math.log(100.0) * torch.arange(half, dtype=torch.float64) / max(half, 1))
    pos = torch.arange(steps + 1, dtype=torch.float64) * (ref_steps / steps)
    ang = pos[:, None] * freqs[None, :]
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1).float()
