"""Shared inference helpers of `lrdif.training` (public; used by `lrdif-train` validation,
`lrdif-eval`, `lrdif-export` and the benchmarks):

- `model_metadata(cfg, ...)`: the `ModelMetadata` a checkpoint's config implies (input size, labels,
  landmarks, diffusion steps, normalisation). Training normalises with it and export embeds it, so
  the runtime contract has one source;
- `normaliser(meta)` / `normalise(x, meta)`: float crops in [0, 1] -> `(x - mean) / std` per channel,
  the torch twin of `lrdif.sdk.backends.preprocess` (which does the same from uint8 pixels);
- `rng_for(seed, *parts)`: the deterministic generators of training and evaluation;
- `predict_logits(...)`: logits of uint8 crops under a degradation (validation and `lrdif-eval`);
- `model_version(ckpt, path)`: the version an artifact of this checkpoint carries.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from lrdif.sdk.labels import labels_for
from lrdif.sdk.metadata import CropSpec, ModelMetadata
from lrdif.training.model.fork import combine
from lrdif.training.model.lrdif import mirror_batch, mirror_mean

__all__ = ["model_metadata", "normaliser", "normalise", "rng_for", "predict_logits", "estimate_from",
           "model_version", "SHIPPED_VERSIONS"]

# Versions of the checkpoints shipped before `lrdif-train --model-version` recorded one in the
# checkpoint's meta, keyed by the file's sha256 (README: the shipped v3).
SHIPPED_VERSIONS = {"8f996f55afa78046b0c82776e1c26a4dafd9f154b9e9296584a9ee7b985015af": "3.0.0"}


def model_metadata(cfg: Any, preset: str = "custom", steps: int | None = None, labels=None,
                   version: str = "0.0.0", weights_sha256: str = "", temperature: float = 1.0) -> ModelMetadata:
    """The runtime contract of a model built from `cfg` (an `LRDifConfig`)."""
    size = int(cfg.input_size)
    if steps is None:
        steps = int(cfg.diffusion_steps) if getattr(cfg, "diffusion", True) else 0
    return ModelMetadata(labels=tuple(labels) if labels else labels_for(int(cfg.num_classes)),
                         input_size=size, crop=CropSpec(size=size) if size != CropSpec().size else CropSpec(),
                         num_landmarks=int(cfg.num_landmarks), diffusion_steps=int(steps),
                         model_name=f"lrdif-{preset}", model_version=version, preset=preset,
                         weights_sha256=weights_sha256, temperature=float(temperature))


def normaliser(meta: ModelMetadata) -> Callable[[torch.Tensor], torch.Tensor]:
    """x (B, 3, S, S) float in [0, 1] (RGB, NCHW as training holds crops) -> model input."""
    if meta.colour_order != "RGB" or meta.input_layout != "NCHW":
        raise ValueError(f"training feeds RGB NCHW crops; metadata asks for {meta.colour_order} "
                         f"{meta.input_layout}")
    mean = torch.tensor(meta.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(meta.std, dtype=torch.float32).view(1, 3, 1, 1)
    return lambda x: (x - mean.to(x)) / std.to(x)


def normalise(x: torch.Tensor, meta: ModelMetadata) -> torch.Tensor:
    return normaliser(meta)(x)


def rng_for(seed: int, *parts: int) -> torch.Generator:
    g = torch.Generator()
    s = seed
    for p in parts:
        s = (s * 1_000_003 + p + 7919) % (2 ** 63 - 1)
    g.manual_seed(s)
    return g


def estimate_from(model, x: torch.Tensor, z_T: torch.Tensor, steps: int | None) -> torch.Tensor:
    """The reverse chain of `model` from a given Z_T (the 'noise start' variant of lrdif-eval)."""
    from lrdif.training.model.lrdif import make_schedule, reverse_chain, sinusoidal_table
    cfg = model.cfg
    cond = model.pnet_s2(x)
    n = cfg.diffusion_steps if steps is None else int(steps)
    sched = make_schedule(n, cfg.beta_start, cfg.beta_end)
    table = model.time_table if n == cfg.diffusion_steps else sinusoidal_table(n, cfg.time_emb_dim, cfg.diffusion_steps).to(cond)
    return reverse_chain(model.denoiser, z_T, cond, table, sched)


def _batch_logits(model, x, lm, y, stage: int, steps, start: str, gen, want_features: bool, parts: bool = False):
    """Logits (and pooled features) of one batch; a stage-2 model with `mirror_average` averages
    them over the batch and its mirror images, as its exported graph (`LRDifInference`) does."""
    if stage == 2 and model.cfg.mirror_average:
        x2, lm2 = mirror_batch(x, lm)
        logits, feats = _plain_logits(model, x2, lm2, None, stage, steps, start, gen, want_features, parts)
        return mirror_mean(logits), (mirror_mean(feats) if feats is not None else None)
    return _plain_logits(model, x, lm, y, stage, steps, start, gen, want_features, parts)


def _plain_logits(model, x, lm, y, stage: int, steps, start: str, gen, want_features: bool, parts: bool = False):
    if stage == 1:
        z = model.fpen_s1(model.label_embeddings[y], x)
    elif start == "noise" and model.cfg.diffusion:
        z = estimate_from(model, x, torch.randn(x.shape[0], model.cfg.epr_dim, generator=gen), steps)
    else:                                   # the exported path: chain from Z_T = 0
        z = model.estimate_epr(x, steps=steps)
    feats = model.udcformer.forward_features(x, lm, z)
    logits = model.udcformer.forward_head(feats)
    if stage == 2 and model.fork is not None:         # the exported graph's ensemble (LRDifInference)
        f, t0 = model.fork(x), model.cfg.fork_base_temperature
        logits = (torch.cat([combine(logits, f, t0, 0.0), torch.log_softmax(f, dim=-1)], dim=-1) if parts
                  else combine(logits, f, t0, model.cfg.fork_weight))
    return logits, (feats if want_features else None)


@torch.no_grad()
def predict_logits(model, crops_u8: torch.Tensor, landmarks: torch.Tensor, *, stage: int,
                   labels: torch.Tensor | None = None, degradation=None, seed: int = 0,
                   batch_size: int = 256, steps: int | None = None, start: str = "zero",
                   return_features: bool = False, progress: bool = False,
                   meta: ModelMetadata | None = None, ensemble_parts: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (N, K) for uint8 crops (N, 3, S, S) under a degradation (deterministic given seed).
    Stage 1 uses the labels (LRDif_S1, ground-truth prior); stage 2 runs the reverse diffusion from
    Z_T = 0 (`start="zero"`, the exported inference path) or from N(0, I) (`start="noise"`).
    Features (optional): the UDCformer's pooled penultimate features (`forward_features`).
    Normalisation: `meta` (default: the metadata the model's config implies). `ensemble_parts` (a
    model with the FaceMesh fork): (N, 2K) = [log_softmax(z / T0), log_softmax(fork)], the two terms
    the ensemble weighs (`combine`), for choosing the weight (`lrdif.training.prior_shift`)."""
    norm = normaliser(meta or model_metadata(model.cfg))
    was = model.training
    model.eval()
    gen = rng_for(seed, 12345)
    outs, feats = [], []
    it = range(0, crops_u8.shape[0], batch_size)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="eval", unit="batch", leave=False)
    for i in it:
        x = crops_u8[i:i + batch_size].float() / 255.0
        if degradation is not None:
            x = degradation(x, gen).clamp_(0, 1)
        y = labels[i:i + batch_size] if labels is not None else None
        logits, f = _batch_logits(model, norm(x), landmarks[i:i + batch_size], y, stage, steps, start, gen,
                                  return_features, ensemble_parts)
        outs.append(logits.float())
        if f is not None:
            feats.append(f.float())
    model.train(was)
    return torch.cat(outs) if outs else torch.zeros(0), (torch.cat(feats) if return_features and feats else None)


def calibration_temperature(ckpt: dict[str, Any] | None) -> float:
    """The temperature `python -m lrdif.training.calibration --write-checkpoint` stored (1.0 = none)."""
    cal = ((ckpt or {}).get("meta") or {}).get("calibration") or {}
    return float(cal.get("temperature", 1.0))


def model_version(ckpt: dict[str, Any] | None, path: str | Path | None = None) -> str:
    """The version artifacts of this checkpoint carry: `meta["model_version"]` (written by
    `lrdif-train --model-version`), else the shipped version of that exact file (by sha256), else
    `0.0.0+sha.<first 12 hex of the file's sha256>` (an unversioned local model)."""
    meta = (ckpt or {}).get("meta") or {}
    if meta.get("model_version"):
        return str(meta["model_version"])
    if path and Path(path).is_file():
        from lrdif.sdk.assets import sha256_file
        sha = sha256_file(path)
        return SHIPPED_VERSIONS.get(sha, f"0.0.0+sha.{sha[:12]}")
    return "0.0.0"
