"""UDCformer: DTNet (Z-modulated DMNet + DGNet) and DILNet (landmark/image window cross-attention)
at three scales, fused and read out by a small transformer head (LRDif sec. 3.1-3.2, eqs. 2-12)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import LRDifConfig
from .facemesh import STAGE_CHANNELS, FaceMeshTrunk, FaceMeshTrunkConfig
from .landmark_regions import region_matrix
from .layers import DILBlock, DTBlock, LayerNorm2d, LayerNormLast, ResBlock, TransformerBlock


class LandmarkHeatmap(nn.Module):
    """Renders (B, N, 2) crop-normalised landmarks into a (B, G, R, R) region heatmap in-graph.

    Separable Gaussian: gx[b,n,w] = exp(-(cx_w - x_n)^2 / 2s^2), gy[b,h,n] likewise; the region sum
    heat[b,g,h,w] = sum_n M[n,g] gy[b,h,n] gx[b,n,w] is one batched matmul ((B, G*R, N) @ (B, N, R))
    with a fixed (G, N) membership buffer M, then squashed with h / (1 + h). Only sub, mul, exp,
    reshape, bmm, div (no broadcasting matmul, so no expand in the graph).
    """

    def __init__(self, cfg: LRDifConfig, res: int) -> None:
        super().__init__()
        self.res = res
        self.groups = cfg.landmark_groups
        self.inv_two_sigma2 = 1.0 / (2.0 * cfg.landmark_sigma ** 2)
        centres = (torch.arange(res, dtype=torch.float32) + 0.5) / res
        self.register_buffer("centres_row", centres.reshape(1, 1, res), persistent=False)
        self.register_buffer("centres_col", centres.reshape(1, res, 1), persistent=False)
        m = torch.from_numpy(region_matrix(cfg.num_landmarks, cfg.landmark_groups))
        self.register_buffer("regions", m.t().contiguous().reshape(1, cfg.landmark_groups, 1, cfg.num_landmarks),
                             persistent=False)

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        b, n = landmarks.shape[0], landmarks.shape[1]
        r, g = self.res, self.groups
        x = landmarks[:, :, 0:1]                                   # (B, N, 1)
        y = landmarks[:, :, 1:2].reshape(b, 1, n)                  # (B, 1, N)
        dx = self.centres_row - x                                  # (B, N, R_w)
        dy = self.centres_col - y                                  # (B, R_h, N)
        gx = torch.exp(dx * dx * (-self.inv_two_sigma2))
        gy = torch.exp(dy * dy * (-self.inv_two_sigma2))
        gy = gy.reshape(b, 1, r, n) * self.regions                 # (B, G, R_h, N)
        heat = torch.bmm(gy.reshape(b, g * r, n), gx).reshape(b, g, r, r)
        return heat / (heat + 1.0)


class LandmarkEncoder(nn.Module):
    """Heatmap -> feature maps at S/4, S/8, S/16 (stands in for the paper's MobileFaceNet features)."""

    def __init__(self, cfg: LRDifConfig) -> None:
        super().__init__()
        d0, d1, d2 = cfg.dims
        self.heatmap = LandmarkHeatmap(cfg, cfg.resolutions[0])
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.landmark_groups, d0, 3, padding=1), nn.GELU(),
            nn.Conv2d(d0, d0, 3, padding=1, groups=d0), nn.Conv2d(d0, d0, 1),
        )
        self.down1 = nn.Sequential(nn.GELU(), nn.Conv2d(d0, d1, 2, stride=2))
        self.down2 = nn.Sequential(nn.GELU(), nn.Conv2d(d1, d2, 2, stride=2))

    def forward(self, landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f0 = self.stem(self.heatmap(landmarks))
        f1 = self.down1(f0)
        f2 = self.down2(f1)
        return f0, f1, f2


def _conv_bn_gelu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.GELU())


def conv_stem(cfg: LRDifConfig) -> nn.Sequential:
    """Image -> S/4 features with dims[0] channels (see LRDifConfig.stem_width)."""
    d0, w = cfg.dims[0], cfg.stem_width
    if w == 0:                                              # v0.1 thin stem
        return nn.Sequential(
            nn.Conv2d(cfg.in_chans, d0 // 2, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(d0 // 2, d0, 3, stride=2, padding=1),
        )
    return nn.Sequential(
        _conv_bn_gelu(cfg.in_chans, w, 1),                  # S
        _conv_bn_gelu(w, 2 * w, 2),                         # S/2
        ResBlock(2 * w),
        nn.Conv2d(2 * w, d0, 3, stride=2, padding=1),       # S/4
    )


class FaceTrunkTaps(nn.Module):
    """FaceMesh's trunk on the crop resized to `face_trunk_size`, returning one projection per scale.

    The crop arrives normalised to [-1, 1]; FaceMesh takes [0, 1]. The tapped map of resolution
    T / 2^k is the last PReLU output at that size (`forward_stages()[3k - 1]`). Each projection is
    LayerNorm2d + 1x1 conv with zero weights and bias: added to UDCformer's features it starts as 0.
    """

    def __init__(self, cfg: LRDifConfig) -> None:
        super().__init__()
        t = cfg.face_trunk_size
        self.size = t
        self.trunk = FaceMeshTrunk(FaceMeshTrunkConfig(input_size=t))
        k0 = (4 * t // cfg.input_size).bit_length() - 1              # S/4 = T / 2^k0
        self.taps = [3 * (k0 + s) - 1 for s in range(3)]
        self.proj = nn.ModuleList()
        for s, tap in enumerate(self.taps):
            conv = nn.Conv2d(STAGE_CHANNELS[tap], cfg.dims[s], 1)
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
            self.proj.append(nn.Sequential(LayerNorm2d(STAGE_CHANNELS[tap], cfg.norm_eps), conv))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = image * 0.5 + 0.5
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        maps = self.trunk.forward_stages(x, upto=self.taps[-1])
        return [proj(maps[tap]) for proj, tap in zip(self.proj, self.taps)]


class UDCformer(nn.Module):
    def __init__(self, cfg: LRDifConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dims
        self.stem = conv_stem(cfg)
        self.landmarks = LandmarkEncoder(cfg)
        self.face_trunk = FaceTrunkTaps(cfg) if cfg.face_trunk_size else None
        self.downs = nn.ModuleList([
            nn.Identity(),
            nn.Sequential(LayerNorm2d(d[0], cfg.norm_eps), nn.Conv2d(d[0], d[1], 2, stride=2)),
            nn.Sequential(LayerNorm2d(d[1], cfg.norm_eps), nn.Conv2d(d[1], d[2], 2, stride=2)),
        ])
        self.dtnet = nn.ModuleList([
            nn.ModuleList([DTBlock(d[s], cfg.heads[s], cfg.ffn_expansion, cfg.epr_dim, cfg.norm_eps,
                                   cfg.resolutions[s] ** 2)
                           for _ in range(cfg.depths[s])])
            for s in range(3)
        ])
        self.dilnet = nn.ModuleList([
            DILBlock(d[s], cfg.dil_heads[s], min(cfg.window_size, cfg.resolutions[s]),
                     cfg.dil_mlp_ratio, cfg.norm_eps)
            for s in range(3)
        ])
        # fusion x_s = Concat(F_s, O_s) -> 1x1 conv to head_dim, pooled to a token grid
        self.fuse = nn.ModuleList([nn.Conv2d(2 * d[s], cfg.head_dim, 1) for s in range(3)])
        self.pool_k = [cfg.resolutions[s] // min(cfg.token_grid, cfg.resolutions[s]) for s in range(3)]
        n_tokens = sum((cfg.resolutions[s] // self.pool_k[s]) ** 2 for s in range(3))
        self.num_tokens = n_tokens
        self.register_buffer("token_avg", torch.full((1, n_tokens), 1.0 / n_tokens), persistent=False)
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens, cfg.head_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList([
            TransformerBlock(cfg.head_dim, cfg.head_heads, cfg.head_mlp_ratio, cfg.head_dropout, cfg.norm_eps)
            for _ in range(cfg.head_depth)
        ])
        self.norm = LayerNormLast(cfg.head_dim, cfg.norm_eps)
        self.drop = nn.Dropout(cfg.head_dropout) if cfg.head_dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(cfg.head_dim, cfg.num_classes)

    def forward(self, image: torch.Tensor, landmarks: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """logits (B, K) = forward_head(forward_features(...))."""
        return self.forward_head(self.forward_features(image, landmarks, z))

    def forward_features(self, image: torch.Tensor, landmarks: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The pooled penultimate features (B, head_dim): the classifier's input (t-SNE, probes)."""
        lm_feats = self.landmarks(landmarks)
        trunk_feats = self.face_trunk(image) if self.face_trunk is not None else None
        x = self.stem(image)
        tokens = []
        for s in range(3):
            x = self.downs[s](x)
            if trunk_feats is not None:
                x = x + trunk_feats[s]                      # face-pretrained features (issue #12)
            o = self.dilnet[s](x, lm_feats[s])             # DILNet on the scale's input features
            for blk in self.dtnet[s]:
                x = blk(x, z)                               # DTNet, modulated by the EPR Z
            f = self.fuse[s](torch.cat([x, o], dim=1))
            k = self.pool_k[s]
            if k > 1:
                f = F.avg_pool2d(f, kernel_size=k, stride=k)
            tokens.append(f.flatten(2).transpose(1, 2))    # (B, g*g, head_dim)
        t = torch.cat(tokens, dim=1) + self.pos_embed       # eq. 10: X = [x1, x2, x3]
        for blk in self.blocks:                             # eqs. 11-12
            t = blk(t)
        t = self.norm(t)
        return F.linear(t.transpose(1, 2), self.token_avg).flatten(1)    # token mean as a linear map

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, head_dim) features -> logits (B, K)."""
        return self.classifier(self.drop(features))
