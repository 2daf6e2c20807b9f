"""Frozen configuration of the LRDif model and its named presets.

All shapes in the model are static functions of an `LRDifConfig`; nothing depends on data.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LRDifConfig:
    # --- input / output -------------------------------------------------------------------
    input_size: int = 64                 # square crop side S (SDK contract: 64)
    in_chans: int = 3
    num_classes: int = 8                 # 8 = LABELS_8, 7 = LABELS_7 (first 7 rows of the label embeddings)
    num_landmarks: int = 468             # MediaPipe FaceMesh
    # --- emotion prior representation (EPR) Z in R^C ----------------------------------------
    epr_dim: int = 64                    # C
    text_emb_dim: int = 384              # all-MiniLM-L6-v2 label text embedding (E_L)
    label_embeddings_path: str = ""      # "" = packaged training/assets/label_text_embeddings.npy
    fpen_hidden: int = 128               # FPEN_S1 linear layers width (eq. 1)
    encoder_dims: tuple[int, ...] = (16, 32, 64)   # conv encoders of FPEN_S1 (own image enc.) and PNET_S2
    # --- UDCformer ---------------------------------------------------------------------------
    # conv stem S -> S/4. 0 = the v0.1 thin stem (two stride-2 convs); W > 0 = conv-BN-GELU at S (W ch),
    # stride 2 to S/2 (2W), a residual block at S/2, stride 2 to S/4 (dims[0]).
    stem_width: int = 0
    # Face-pretrained trunk (issue #12): 0 = none; T > 0 = MediaPipe FaceMesh's convolutional trunk
    # (facemesh.py) runs on the crop resized to T x T, and its last map at each of S/4, S/8, S/16
    # is added to UDCformer's image features there through a LayerNorm + zero-initialised 1x1 conv
    # (so a checkpoint without the trunk loads and computes exactly as before). T must be S/2, S or
    # 2S (a multiple of 32, >= 64); T = 2S taps the 64/128/128-channel maps, i.e. the whole trunk.
    face_trunk_size: int = 0
    dims: tuple[int, int, int] = (32, 64, 96)      # channels at S/4, S/8, S/16
    depths: tuple[int, int, int] = (1, 1, 1)       # DTNet blocks (DMNet + DGNet) per scale
    heads: tuple[int, int, int] = (1, 2, 4)        # DMNet (transposed attention) heads per scale
    dil_heads: tuple[int, int, int] = (1, 2, 4)    # DILNet window cross-attention heads per scale
    window_size: int = 4                 # DILNet window side (clipped to the scale's resolution)
    ffn_expansion: float = 2.0           # DGNet hidden = dims * ffn_expansion
    dil_mlp_ratio: float = 2.0
    landmark_groups: int = 8             # heatmap channels (facial regions, see landmark_regions.py)
    landmark_sigma: float = 0.04         # Gaussian sigma of the rendered heatmap, crop-normalised units
    token_grid: int = 2                  # each scale is pooled to token_grid x token_grid tokens
    head_dim: int = 96                   # transformer head width (eqs. 10-12)
    head_depth: int = 1
    head_heads: int = 4
    head_mlp_ratio: float = 2.0
    head_dropout: float = 0.0
    # --- diffusion (stage 2) -----------------------------------------------------------------
    diffusion: bool = True               # False = ablation: PNET_S2 output used directly as Z
    diffusion_steps: int = 4             # T
    # Linear betas 0.1 -> 0.99 over T steps (DiffIR's S2 setting, timesteps=4): for T=4 the
    # betas are 0.1, 0.397, 0.693, 0.99, alpha_bar_T = 0.9*0.603*0.307*0.01 ~ 1.7e-3, so
    # q(Z_T|Z) = N(sqrt(1.7e-3) Z, (1-1.7e-3) I) is essentially N(0, I) after only T=4 steps
    # (the paper's requirement "Z_T ~ N(0, 1)"), which makes the zero start Z_T = 0 used at
    # inference the mean of the distribution the reverse chain was trained from.
    beta_start: float = 0.1
    beta_end: float = 0.99
    insert_noise: bool = True            # stage-2 training starts the chain from the noised teacher Z_T
    denoiser_hidden: int = 128
    denoiser_depth: int = 3              # linear layers in eps_theta
    time_emb_dim: int = 16               # sinusoidal time features concatenated into eps_theta
    norm_eps: float = 1e-5
    # --- inference ---------------------------------------------------------------------------
    # True = the stage-2 inference path (LRDifInference, lrdif-eval, calibration) averages the logits
    # of the crop and of its mirror image (landmarks x -> 1 - x, left/right indices swapped by
    # FACEMESH_MIRROR) in one batch of 2B: a mirror-invariant prediction for twice the compute.
    # Training ignores it; `python -m lrdif.training.calibration --mirror-average` switches it on.
    mirror_average: bool = False
    # FaceMesh emotion fork (fork.py): 0 = none; T > 0 = FaceMesh's trunk on the crop padded by a
    # quarter and resized to T x T, its first `fork_tap` blocks MediaPipe's, the later ones + a linear
    # classifier trained by `python -m lrdif.training.fork`; the output is log_softmax(z / T0) +
    # fork_weight x log_softmax(fork logits), T0 = fork_base_temperature. Training ignores it.
    fork_size: int = 0
    fork_tap: int = 9
    fork_weight: float = 1.0
    fork_base_temperature: float = 1.0

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"invalid LRDifConfig: {msg}")

        for name in ("dims", "depths", "heads", "dil_heads"):
            v = getattr(self, name)
            if len(v) != 3:
                bad(f"{name} must have 3 entries (one per scale), got {v!r}")
        if self.num_classes not in (7, 8):
            bad(f"num_classes must be 7 or 8, got {self.num_classes}")
        if self.input_size % 16 or self.input_size < 16:
            bad(f"input_size must be a multiple of 16, got {self.input_size}")
        for s, res in enumerate(self.resolutions):
            w = min(self.window_size, res)
            if res % w:
                bad(f"scale {s}: resolution {res} not divisible by window {w}")
            g = min(self.token_grid, res)
            if res % g:
                bad(f"scale {s}: resolution {res} not divisible by token grid {g}")
            if self.dims[s] % self.heads[s] or self.dims[s] % self.dil_heads[s]:
                bad(f"scale {s}: dim {self.dims[s]} not divisible by heads")
        if self.head_dim % self.head_heads:
            bad(f"head_dim {self.head_dim} not divisible by head_heads {self.head_heads}")
        if self.diffusion and self.diffusion_steps < 1:
            bad("diffusion_steps must be >= 1 when diffusion=True")
        if not (0.0 < self.beta_start <= self.beta_end < 1.0):
            bad(f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.time_emb_dim % 2:
            bad("time_emb_dim must be even")
        if self.stem_width < 0:
            bad(f"stem_width must be >= 0, got {self.stem_width}")
        if self.landmark_groups < 1 or self.landmark_groups > 8:
            bad("landmark_groups must be in 1..8")
        if self.face_trunk_size:
            t, s = self.face_trunk_size, self.input_size
            if t < 64 or t % 32 or (4 * t) % s or (4 * t // s) not in (2, 4, 8):
                bad(f"face_trunk_size must be 0 or a multiple of 32 (>= 64) equal to input_size / 2, "
                    f"input_size or 2 x input_size, got {t} for input_size {s}")

        if self.fork_size:
            from .facemesh import TRUNK_BLOCKS
            if self.fork_size < 64 or self.fork_size % 32:
                bad(f"fork_size must be 0 or a multiple of 32 (>= 64), got {self.fork_size}")
            if not 1 <= self.fork_tap <= len(TRUNK_BLOCKS) - 1:
                bad(f"fork_tap must be in 1..{len(TRUNK_BLOCKS) - 1}, got {self.fork_tap}")
            if self.fork_weight < 0 or self.fork_base_temperature <= 0:
                bad(f"need fork_weight >= 0 and fork_base_temperature > 0, got {self.fork_weight}, "
                    f"{self.fork_base_temperature}")

    @property
    def resolutions(self) -> tuple[int, int, int]:
        """Feature-map side per scale: S/4, S/8, S/16."""
        s = self.input_size // 4
        return (s, s // 2, s // 4)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LRDifConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown LRDifConfig fields: {sorted(unknown)}")
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**kw)


# Measured (count_params / count_macs on LRDifInference, batch 1; MACs = conv/linear/matmul only):
#   tiny   : 32x32,   42 k inference params (71 k with FPEN_S1),   1.5 M MACs
#   mobile : 64x64,  1.73 M inference params,                      102 M MACs; forward+backward+AdamW
#            of a stage-2 batch of 64: ~0.42 s on 2 idle CPU threads -> ~3.1 min per 28.5k-image
#            FERPlus epoch (model only, no data pipeline). (v0.1 mobile = LRDifConfig():
#            0.70 M params, 41 M MACs, 0.23 s per batch.) On an oversubscribed machine 2 OpenMP
#            threads degrade badly (measured 3-18 s per batch at load 3.5): prefer 1 thread there.
#   paper  : 112x112, 10.0 M inference params (11.1 M total),      1.15 G MACs
PRESETS: dict[str, LRDifConfig] = {
    # unit tests: forward + backward well under a second
    "tiny": LRDifConfig(
        input_size=32, epr_dim=16, fpen_hidden=32, encoder_dims=(8, 16, 16),
        dims=(8, 16, 16), depths=(1, 1, 1), heads=(1, 1, 2), dil_heads=(1, 1, 2),
        window_size=4, landmark_groups=8, token_grid=2, head_dim=16, head_depth=1,
        head_heads=2, denoiser_hidden=32, denoiser_depth=2, time_emb_dim=8,
    ),
    # the shipped default: 64x64, trainable on a 2-core CPU (v0.2: conv stem + wider, deeper scales;
    # v0.1 was LRDifConfig() itself: 0.70 M params, 41 M MACs, underfitted at 0.72 train accuracy)
    "mobile": LRDifConfig(stem_width=16, dims=(48, 96, 160), depths=(1, 2, 2)),
    # full-size UDCformer for GPU users
    "paper": LRDifConfig(
        input_size=112, epr_dim=256, fpen_hidden=512, encoder_dims=(32, 64, 128),
        dims=(48, 96, 192), depths=(2, 3, 4), heads=(1, 2, 4), dil_heads=(2, 4, 8),
        window_size=7, ffn_expansion=2.66, dil_mlp_ratio=4.0, token_grid=7, head_dim=384,
        head_depth=2, head_heads=8, head_mlp_ratio=4.0, head_dropout=0.1,
        denoiser_hidden=512, denoiser_depth=5, time_emb_dim=32,
    ),
}


def get_config(name: str, **overrides: Any) -> LRDifConfig:
    """A preset by name, optionally with fields replaced (`get_config("mobile", num_classes=7)`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[name]
    if overrides:
        known = {f.name for f in dataclasses.fields(LRDifConfig)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown LRDifConfig fields in overrides: {sorted(unknown)}")
        cfg = dataclasses.replace(cfg, **overrides)
    return cfg
