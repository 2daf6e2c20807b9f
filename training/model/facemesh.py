"""MediaPipe FaceMesh's convolutional trunk (face_landmark.tflite, Apache-2.0) as a torch module.

The network (BlazeFace-style residual blocks):
  stem   conv3x3 s2 (3 -> 16) + PReLU
  trunk  14 blocks, each  y = PReLU(skip(x) + conv1x1(dwconv3x3_s(x)))  with skip = x (s = 1) or
         maxpool2x2(x) zero-padded to the new channel count (s = 2):
         16,16 | 16->32 s2, 32,32 | 32->64 s2, 64,64 | 64->128 s2, 128,128 | 128 s2, 128,128
         -> at 192 px input: 96, 48, 24, 12, 6 px maps; the last one (6x6x128) is `features`.
  landmark head (optional): 3 blocks (the first s2 -> 3x3x128), conv1x1 128->32 + PReLU,
         a 32-channel block, conv3x3 valid -> 1404 = 468 x (x, y, z) in crop pixels.
TensorFlow "SAME" padding is asymmetric for stride 2 (the extra row/column at the bottom/right):
reproduced with an explicit F.pad, so converted weights give LiteRT's numbers.

Input: (B, 3, H, W) RGB in [0, 1] (FaceMesh's own input range), H = W a multiple of 32 (192 is
the original; 96-128 work: the maps shrink, the weights do not change).
Weights: `lrdif.training.facemesh_weights.load_facemesh_state_dict` converts the sha256-pinned
face_landmark.tflite of `lrdif-setup`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# (in, out, stride) of the trunk blocks, in graph order (depthwise_conv2d_i / conv2d_{i+1} / p_re_lu_{i+1})
TRUNK_BLOCKS: tuple[tuple[int, int, int], ...] = (
    (16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1),
    (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2), (128, 128, 1), (128, 128, 1),
)
STAGE_CHANNELS: tuple[int, ...] = (16,) + tuple(b[1] for b in TRUNK_BLOCKS)   # forward_stages()[i] widths
HEAD_BLOCKS: tuple[tuple[int, int, int], ...] = ((128, 128, 2), (128, 128, 1), (128, 128, 1))
NUM_LANDMARKS = 468


@dataclass(frozen=True)
class FaceMeshTrunkConfig:
    input_size: int = 192             # square input side (multiple of 32)
    landmark_head: bool = False       # also build the 1404-d landmark regressor

    def __post_init__(self) -> None:
        if not isinstance(self.input_size, int) or self.input_size < 64 or self.input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32 and >= 64, got {self.input_size!r}")

    @property
    def feature_dim(self) -> int:
        return TRUNK_BLOCKS[-1][1]

    @property
    def feature_size(self) -> int:
        return self.input_size // 32


def _same_pad_stride2(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """TF SAME padding for a k x k stride-2 window on an even-sized map: (k-2) before, 1 after...
    in general total = max(k - 2, 0) for even sizes, split floor before / ceil after."""
    total = max(k - 2, 0) if x.shape[-1] % 2 == 0 else max(k - 1, 0)
    before = total // 2
    return F.pad(x, (before, total - before, before, total - before))


class PReLU2d(nn.Module):
    """Per-channel PReLU (TF's shared-axes PReLU of FaceMesh), as aten.prelu: one op that ONNX
    (PRelu), LiteRT (PRELU), Core ML and ExecuTorch's XNNPACK partitioner each take whole."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((channels,), 0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.prelu(x, self.alpha)


class Block(nn.Module):
    """y = PReLU(skip(x) + conv1x1(dwconv3x3(x)))."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_channels = cout - cin
        self.dw = nn.Conv2d(cin, cin, 3, stride=stride, padding=1 if stride == 1 else 0, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)
        self.act = PReLU2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            y = self.pw(self.dw(_same_pad_stride2(x)))
            skip = F.max_pool2d(x, 2, 2)       # stride explicit: Core ML's converter needs it
        else:
            y = self.pw(self.dw(x))
            skip = x
        if self.pad_channels:
            skip = F.pad(skip, (0, 0, 0, 0, 0, self.pad_channels))
        return self.act(skip + y)


class FaceMeshTrunk(nn.Module):
    """`forward_features(x)` -> (B, 128, S/32, S/32); `forward(x)` -> pooled (B, 128) features;
    `forward_landmarks(x)` -> (B, 468, 3) crop pixels (only with `landmark_head`)."""

    def __init__(self, cfg: FaceMeshTrunkConfig = FaceMeshTrunkConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=0)
        self.stem_act = PReLU2d(16)
        self.blocks = nn.ModuleList(Block(*b) for b in TRUNK_BLOCKS)
        if cfg.landmark_head:
            self.head_blocks = nn.ModuleList(Block(*b) for b in HEAD_BLOCKS)
            self.head_reduce = nn.Conv2d(128, 32, 1)
            self.head_reduce_act = PReLU2d(32)
            self.head_block32 = Block(32, 32, 1)
            self.head_out = nn.Conv2d(32, NUM_LANDMARKS * 3, 3)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem_act(self.stem(_same_pad_stride2(x)))

    def forward_stages(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Every PReLU output of stem + trunk, in graph order (p_re_lu_1 .. p_re_lu_15); with `upto`
        only the stem and the first `upto` blocks run."""
        x = self.forward_stem(x)
        out = [x]
        for blk in self.blocks[:upto]:
            x = blk(x)
            out.append(x)
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_stem(x)
        for blk in self.blocks:
            x = blk(x)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_landmarks(self, x: torch.Tensor) -> torch.Tensor:
        if not self.cfg.landmark_head:
            raise RuntimeError("this FaceMeshTrunk was built without the landmark head (landmark_head=False)")
        y = self.forward_features(x)
        for blk in self.head_blocks:
            y = blk(y)
        y = self.head_block32(self.head_reduce_act(self.head_reduce(y)))
        y = self.head_out(y)                      # (B, 1404, 1, 1) at 192 px
        return y.flatten(1).reshape(-1, NUM_LANDMARKS, 3)
