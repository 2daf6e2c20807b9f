"""One optimisation step of `lrdif-train` (batch -> augment -> degrade -> normalise -> forward ->
losses -> backward -> all-reduce -> clip -> AdamW + schedule -> EMA) and the LR schedule."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from lrdif.training.errors import TrainError

__all__ = ["lr_lambda", "train_forward", "StepSettings", "StepOutput", "train_step", "class_log_prior"]


def lr_lambda(total: int, warmup: int, floor: float) -> Callable[[int], float]:
    """Linear warm-up over `warmup` steps, then cosine from 1 to `floor` at `total`."""
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        prog = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * prog))
    return f


def class_log_prior(targets: torch.Tensor, floor: float = 1e-4) -> torch.Tensor:
    """(K,) log of the class frequencies of (N, K) training targets (vote distributions or one-hot)."""
    prior = targets.float().mean(0)
    return torch.log(prior.clamp_min(floor) / prior.clamp_min(floor).sum())


def train_forward(model, stage: int, prior_only: bool, x_in: torch.Tensor, x_clean: torch.Tensor,
                  lm: torch.Tensor, y: torch.Tensor):
    """One training forward -> (logits or None, teacher Z or None, estimated Z or None).
    Stage 1: Z from FPEN_S1(label, degraded crop). Stage 2: teacher Z from the frozen FPEN_S1 on the
    CLEAN crop; the prior-only warm-up runs PNET_S2 + denoiser alone."""
    if stage == 1:
        logits, _z = model.forward_stage1(x_in, lm, y)
        return logits, None, None
    with torch.autocast("cpu", enabled=False):  # the KL target stays float32 under --amp bf16
        z_t = model.teacher_epr(x_clean, y)
    if prior_only:
        return None, z_t, model.estimate_epr(x_in, z_t)
    logits, z_hat = model.forward_stage2(x_in, lm, z_teacher=z_t)
    return logits, z_t, z_hat


@dataclass(frozen=True)
class StepSettings:
    stage: int
    use_kl: bool
    kl_weight: float
    soft_targets: bool
    label_smoothing: float
    augment: bool
    amp_bf16: bool
    logit_adjust: float = 0.0                  # tau of the logit-adjusted loss (0 = off)
    log_prior: torch.Tensor | None = None      # (K,) log class prior of the training targets


@dataclass
class StepOutput:
    loss: float
    loss_ce: float
    loss_kl: float
    correct: int
    n: int          # 0 when the step had no classifier output (prior-only warm-up)


def _losses(s: StepSettings, prior_only: bool, logits, z_t, z_hat, y, soft):
    from lrdif.training.model import epr_kl_loss
    if s.stage == 1:
        loss_kl = torch.zeros(())
    else:
        loss_kl = epr_kl_loss(z_t.float(), z_hat.float()) if (s.use_kl or prior_only) else torch.zeros(())
    if logits is not None:
        target = soft if s.soft_targets else y
        if s.logit_adjust:       # training-time only: inference uses the plain logits
            logits = logits + s.logit_adjust * s.log_prior.to(logits.dtype)
        loss_ce = F.cross_entropy(logits, target, label_smoothing=s.label_smoothing)
    else:
        loss_ce = torch.zeros(())
    loss = (loss_kl * s.kl_weight) if prior_only else loss_ce + s.kl_weight * loss_kl
    return loss, loss_ce, loss_kl


def train_step(s: StepSettings, model, train, idx: torch.Tensor, gen: torch.Generator, mix, norm,
               opt, sched, params: list, dist, ema, prior_only: bool, where: str,
               poison: bool = False) -> StepOutput:
    """Run one step on the training rows `idx`. `where` names the step in a non-finite-loss error;
    `poison` multiplies the loss by NaN (test hook)."""
    from lrdif.training.data import augment_batch
    x = train.crops[idx].float().div_(255.0)
    lm, y = train.landmarks[idx], train.labels[idx]
    if s.augment:
        x, lm = augment_batch(x, lm, gen)
    x_in = norm(mix(x, gen).clamp_(0, 1))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=s.amp_bf16):
        logits, z_t, z_hat = train_forward(model, s.stage, prior_only, x_in, norm(x), lm, y)
    if logits is not None:
        logits = logits.float()
    loss, loss_ce, loss_kl = _losses(s, prior_only, logits, z_t, z_hat, y, train.targets[idx])
    if poison:
        loss = loss * float("nan")
    if dist.any_flag(not bool(torch.isfinite(loss.detach()))):
        raise TrainError(f"non-finite loss ({float(loss.detach()):.4g}) at {where}; lr {sched.get_last_lr()[0]:.3g}); "
                         f"stopping. Lower --lr or check the data")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    dist.allreduce_grads(params)
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    opt.step()
    sched.step()
    if ema is not None:
        ema.update(model)
    correct = int((logits.argmax(1) == y).sum()) if logits is not None else 0
    return StepOutput(float(loss.detach()), float(loss_ce.detach()), float(loss_kl.detach()), correct,
                      len(y) if logits is not None else 0)

