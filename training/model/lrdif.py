"""LRDif: FPEN_S1, PNET_S2, the EPR diffusion (eps_theta), the UDCformer, and the export wrapper.

Stage 1 (eq. 1):  Z = FPEN_S1(Concat(E_L(y), E_I(x)))  ->  UDCformer(x, landmarks | Z)  ->  logits.
Stage 2 (eqs. 14-18): cond = PNET_S2(x); reverse chain  Z_{t-1} = 1/sqrt(a_t) (Z_t - (1-a_t)/sqrt(1-abar_t)
    eps_theta(Concat(Z_t, t, cond)))  for t = T..1;  logits = UDCformer(x, landmarks | Z_0).

Choice of the chain's start Z_T (explicit, DiffIR practice):
- training with `z_teacher` and `insert_noise=True`: Z_T = sqrt(abar_T) z_teacher + sqrt(1 - abar_T) eps
  (eq. 14, eps ~ N(0, I)); the full T-step reverse chain then runs from it, exactly the steps used
  at inference (DiffIR trains its S2 this way instead of single-step noise regression);
- otherwise (inference, `insert_noise=False`, or no teacher): Z_T = 0, a zero buffer. With the default
  schedule abar_T ~ 1.7e-3, so the training Z_T is ~N(0, I) and 0 is its mean: inference is the
  deterministic mean-start chain (no random noise in the exported graph).
The reverse update is eq. 16 with DDPM's sqrt(1 - abar_t) in the denominator (the paper prints
sqrt(1 - a_t); DDPM / DiffIR use abar_t); no noise term is added in the reverse steps (DiffIR's
p_sample returns the posterior mean), so the chain is deterministic given Z_T.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import LRDifConfig
from .fork import build_fork, combine
from .landmark_regions import FACEMESH_MIRROR
from .layers import ConvEncoder, sinusoidal_table
from .udcformer import UDCformer

DEFAULT_LABEL_EMBEDDINGS = Path(__file__).resolve().parents[1] / "assets" / "label_text_embeddings.npy"


def make_schedule(steps: int, beta_start: float, beta_end: float) -> dict[str, list[float]]:
    """Linear beta schedule over `steps` (Python floats -> constants in an exported graph).
    Index i = 0..steps-1 holds time t = i + 1."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if steps == 1:
        betas = [beta_end]
    else:
        betas = [beta_start + (beta_end - beta_start) * i / (steps - 1) for i in range(steps)]
    alphas = [1.0 - b for b in betas]
    abar, acc = [], 1.0
    for a in alphas:
        acc *= a
        abar.append(acc)
    return {"betas": betas, "alphas": alphas, "alphas_cumprod": abar}


def load_label_embeddings(cfg: LRDifConfig, path: str | Path | None = None) -> torch.Tensor:
    """(num_classes, text_emb_dim) float32 from the .npy (first 7 rows in 7-class mode)."""
    p = Path(path or cfg.label_embeddings_path or DEFAULT_LABEL_EMBEDDINGS)
    if not p.is_file():
        raise FileNotFoundError(
            f"label text embeddings not found: {p} (make them with "
            "`python -m lrdif.training.model.make_label_embeddings`)")
    arr = np.load(p).astype(np.float32)
    if arr.ndim != 2 or arr.shape[0] < cfg.num_classes or arr.shape[1] != cfg.text_emb_dim:
        raise ValueError(f"{p}: expected ({cfg.num_classes}+, {cfg.text_emb_dim}) embeddings, got {arr.shape}")
    return torch.from_numpy(arr[: cfg.num_classes].copy())


class FPEN_S1(nn.Module):
    """Eq. 1: linear layers on Concat(label text embedding, image embedding) -> Z in R^C.
    The image embedding comes from FPEN_S1's own small conv encoder (stands in for CLIP E_I)."""

    def __init__(self, cfg: LRDifConfig) -> None:
        super().__init__()
        self.image_encoder = ConvEncoder(cfg.in_chans, cfg.encoder_dims)
        h = cfg.fpen_hidden
        self.mlp = nn.Sequential(
            nn.Linear(cfg.text_emb_dim + self.image_encoder.out_dim, h), nn.LeakyReLU(0.1),
            nn.Linear(h, h), nn.LeakyReLU(0.1),
            nn.Linear(h, cfg.epr_dim),
        )

    def forward(self, text_emb: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([text_emb, self.image_encoder(image)], dim=1))


class PNET_S2(nn.Module):
    """LLDif PNET_S2: convolution + residual layers + linear -> condition vector in R^C (no CLIP)."""

    def __init__(self, cfg: LRDifConfig) -> None:
        super().__init__()
        self.encoder = ConvEncoder(cfg.in_chans, cfg.encoder_dims)
        h = cfg.fpen_hidden
        self.mlp = nn.Sequential(
            nn.Linear(self.encoder.out_dim, h), nn.LeakyReLU(0.1),
            nn.Linear(h, cfg.epr_dim),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.encoder(image))


class Denoiser(nn.Module):
    """eps_theta(Concat(Z_t, t_embedding, cond)): an MLP (DiffIR's denoise network).

    The first layer on the concatenation is written as the equivalent sum of three linear maps,
    W [z; t; c] + b = W_z z + W_t t + W_c c + b, so the inputs broadcast over the batch: the zero
    start Z_T (1, C) and the per-step time row (1, Ct) need no expand / cat in the exported graph.
    """

    def __init__(self, cfg: LRDifConfig) -> None:
        super().__init__()
        c, h = cfg.epr_dim, cfg.denoiser_hidden
        self.in_z = nn.Linear(c, h, bias=False)
        self.in_t = nn.Linear(cfg.time_emb_dim, h)
        self.in_c = nn.Linear(c, h, bias=False)
        layers: list[nn.Module] = [nn.LeakyReLU(0.1)]
        for _ in range(cfg.denoiser_depth - 2):
            layers += [nn.Linear(h, h), nn.LeakyReLU(0.1)]
        layers.append(nn.Linear(h, c))
        self.net = nn.Sequential(*layers)

    def forward(self, z_t: torch.Tensor, t_emb: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """z_t (B or 1, C), t_emb (B or 1, Ct), cond (B, C) -> eps (B, C)."""
        return self.net(self.in_z(z_t) + self.in_t(t_emb) + self.in_c(cond))


def reverse_chain(denoiser: Denoiser, z_T: torch.Tensor, cond: torch.Tensor, time_table: torch.Tensor,
                  schedule: dict[str, list[float]]) -> torch.Tensor:
    """Eq. 16 for t = T..1, unrolled (T is a Python int: static graph, constants per step).
    z_T may be (1, C) (the zero buffer, broadcast over the batch) or (B, C)."""
    z = z_T
    steps = len(schedule["alphas"])
    for t in range(steps, 0, -1):
        a = schedule["alphas"][t - 1]
        abar = schedule["alphas_cumprod"][t - 1]
        t_emb = time_table[t : t + 1]                                  # (1, Ct), broadcast
        eps = denoiser(z, t_emb, cond)
        z = (z - eps * ((1.0 - a) / math.sqrt(1.0 - abar))) * (1.0 / math.sqrt(a))
    return z


# Buffers of older checkpoints that the model no longer has (the schedule is rebuilt from the config
# as Python constants); dropped on load.
LEGACY_BUFFERS = ("betas", "alphas_cumprod")


def _drop_legacy_buffers(state_dict, prefix, *_args) -> None:
    for name in LEGACY_BUFFERS:
        state_dict.pop(prefix + name, None)


class LRDif(nn.Module):
    """Both training stages of LRDif; see the module docstring for the diffusion choices."""

    def __init__(self, cfg: LRDifConfig, label_embeddings: torch.Tensor | np.ndarray | str | Path | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        if label_embeddings is None or isinstance(label_embeddings, (str, Path)):
            emb = load_label_embeddings(cfg, label_embeddings)
        else:
            emb = torch.as_tensor(np.asarray(label_embeddings, dtype=np.float32))[: cfg.num_classes]
            if tuple(emb.shape) != (cfg.num_classes, cfg.text_emb_dim):
                raise ValueError(f"label_embeddings must be ({cfg.num_classes}, {cfg.text_emb_dim}), got {tuple(emb.shape)}")
        self.register_buffer("label_embeddings", emb.clone())
        self.fpen_s1 = FPEN_S1(cfg)
        self.pnet_s2 = PNET_S2(cfg)
        self.denoiser = Denoiser(cfg) if cfg.diffusion else None
        self.udcformer = UDCformer(cfg)
        self.fork = build_fork(cfg)
        self.register_buffer("time_table", sinusoidal_table(max(cfg.diffusion_steps, 1), cfg.time_emb_dim,
                                                            max(cfg.diffusion_steps, 1)))
        self.register_buffer("z_T", torch.zeros(1, cfg.epr_dim))
        self._register_load_state_dict_pre_hook(_drop_legacy_buffers)

    # ------------------------------------------------------------------ stage 1
    def forward_stage1(self, image: torch.Tensor, landmarks: torch.Tensor, labels: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, z): Z = FPEN_S1(label_emb[labels], image), UDCformer conditioned on Z."""
        text = self.label_embeddings[labels]
        z = self.fpen_s1(text, image)
        return self.udcformer(image, landmarks, z), z

    # ------------------------------------------------------------------ stage 2
    def estimate_epr(self, image: torch.Tensor, z_teacher: torch.Tensor | None = None,
                     steps: int | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """z_hat from the image alone (plus the noised teacher start during training)."""
        cfg = self.cfg
        cond = self.pnet_s2(image)
        if not cfg.diffusion:
            return cond                                       # ablation: PNET_S2 straight to Z
        n = cfg.diffusion_steps if steps is None else int(steps)
        sched = make_schedule(n, cfg.beta_start, cfg.beta_end)
        table = self.time_table if n == cfg.diffusion_steps else \
            sinusoidal_table(n, cfg.time_emb_dim, cfg.diffusion_steps).to(cond)
        if z_teacher is not None and cfg.insert_noise:
            if noise is None:
                noise = torch.randn_like(z_teacher)
            abar_T = sched["alphas_cumprod"][-1]
            z_T = z_teacher * math.sqrt(abar_T) + noise * math.sqrt(1.0 - abar_T)
        else:
            z_T = self.z_T                                  # (1, C) zeros, broadcast over the batch
        return reverse_chain(self.denoiser, z_T, cond, table, sched)

    def forward_stage2(self, image: torch.Tensor, landmarks: torch.Tensor, z_teacher: torch.Tensor | None = None,
                       steps: int | None = None, noise: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, z_hat). Pass the (detached) stage-1 Z as `z_teacher` during training; the KL
        loss of eq. 17 is `epr_kl_loss(z_teacher, z_hat)`. `steps` overrides T (inference)."""
        z_hat = self.estimate_epr(image, z_teacher, steps, noise)
        return self.udcformer(image, landmarks, z_hat), z_hat

    @torch.no_grad()
    def teacher_epr(self, image: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Stage-1 Z for stage-2 training, computed with FPEN_S1 in eval mode (frozen BN stats)."""
        was = self.fpen_s1.training
        self.fpen_s1.eval()
        z = self.fpen_s1(self.label_embeddings[labels], image)
        self.fpen_s1.train(was)
        return z

    def forward(self, image: torch.Tensor, landmarks: torch.Tensor, labels: torch.Tensor | None = None,
                stage: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        if stage == 1:
            if labels is None:
                raise ValueError("stage 1 needs labels")
            return self.forward_stage1(image, landmarks, labels)
        return self.forward_stage2(image, landmarks)


def epr_kl_loss(z_teacher: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
    """Eq. 17: KL(softmax(z_teacher) || softmax(z_hat)) over the C dims, batch mean."""
    p_log = F.log_softmax(z_teacher, dim=1)
    q_log = F.log_softmax(z_hat, dim=1)
    return (p_log.exp() * (p_log - q_log)).sum(dim=1).mean()


MIRROR_INDEX = torch.as_tensor(FACEMESH_MIRROR, dtype=torch.long)   # FACEMESH_MIRROR as an index tensor


def mirror_landmarks(landmarks: torch.Tensor, mirror_index: torch.Tensor = MIRROR_INDEX) -> torch.Tensor:
    """(B, 468, 2) crop-normalised landmarks of the mirror image: x -> 1 - x and FaceMesh's
    left/right indices swapped (used by training's flip augmentation and mirror-averaged inference)."""
    lm = landmarks.index_select(1, mirror_index.to(landmarks.device))
    return torch.cat([1.0 - lm[:, :, 0:1], lm[:, :, 1:2]], dim=2)


def mirror_batch(image: torch.Tensor, landmarks: torch.Tensor, mirror_index: torch.Tensor = MIRROR_INDEX
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(2B images, 2B landmarks): the batch followed by its mirror images (`mirror_landmarks`)."""
    return (torch.cat([image, image.flip(-1)], dim=0),
            torch.cat([landmarks, mirror_landmarks(landmarks, mirror_index)], dim=0))


def mirror_mean(x: torch.Tensor) -> torch.Tensor:
    """(2B, ...) from a `mirror_batch` -> (B, ...): mean of each item and its mirror image."""
    return x.reshape(2, -1, *x.shape[1:]).mean(dim=0)


class LRDifInference(nn.Module):
    """Stage-2 export wrapper: (image (B,3,S,S), landmarks (B,468,2)) -> (probabilities, logits).

    No FPEN_S1 / label embeddings; the reverse chain is unrolled for `steps` (fixed at construction)
    from an explicit zero Z_T buffer; deterministic. Shares (does not copy) the trained modules.
    """

    def __init__(self, model: LRDif, steps: int | None = None) -> None:
        super().__init__()
        cfg = model.cfg
        self.cfg = cfg
        self.pnet_s2 = model.pnet_s2
        self.udcformer = model.udcformer
        self.fork = model.fork
        self.diffusion = cfg.diffusion
        if cfg.diffusion:
            self.denoiser = model.denoiser
            self.steps = cfg.diffusion_steps if steps is None else int(steps)
            self.schedule = make_schedule(self.steps, cfg.beta_start, cfg.beta_end)
            self.register_buffer("time_table", sinusoidal_table(self.steps, cfg.time_emb_dim, cfg.diffusion_steps))
            self.register_buffer("z_T", torch.zeros(1, cfg.epr_dim))
        else:
            self.steps = 0
        self.mirror = cfg.mirror_average
        if self.mirror:
            self.register_buffer("mirror_index", MIRROR_INDEX.clone())
        self.eval()

    def forward(self, image: torch.Tensor, landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mirror:
            image, landmarks = mirror_batch(image, landmarks, self.mirror_index)
        cond = self.pnet_s2(image)
        if self.diffusion:
            z = reverse_chain(self.denoiser, self.z_T, cond, self.time_table, self.schedule)
        else:
            z = cond
        logits = self.udcformer(image, landmarks, z)
        if self.fork is not None:
            logits = combine(logits, self.fork(image), self.cfg.fork_base_temperature, self.cfg.fork_weight)
        if self.mirror:
            logits = mirror_mean(logits)
        return logits.softmax(dim=-1), logits
