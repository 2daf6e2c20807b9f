"""`lrdif-train stage1|stage2`: LRDif two-stage training on FERPlus (or any `load_dataset` layout).

Stage 1 (paper sec. 3.2): FPEN_S1 + UDCformer with cross-entropy; Z = FPEN_S1(label text, image).
Stage 2 (sec. 3.3): load the stage-1 checkpoint, freeze FPEN_S1 (teacher Z from the CLEAN augmented
crop + true label, no grad), train PNET_S2 + denoiser + UDCformer on the DEGRADED crop with
L_ce + L_kl (eqs. 17-18). Ablations (table 5): --no-diffusion (V1), --loss ce (V2),
--no-insert-noise (V4); the default is V3.

Data path: the dataset is loaded once, the landmark cache (SDK front-end; cached on disk) gives the
crop affine + crop landmarks, crops are cut once into memory (uint8), and each batch is augmented
(flip with FaceMesh mirror permutation, small affine), degraded (MixedDegradation) and normalised in
batched torch. Multi-process: `torchrun --nproc_per_node N -m lrdif.training.train ...` (gloo
process group; every rank holds the crops, a DistributedSampler shards the indices, gradients are
all-reduced (averaged) after each backward exactly like DDP; rank 0 logs and writes checkpoints).
`--batch-size` is per process.

Outputs in --out: train_log.csv, curves.png, last.pt (each epoch; EMA weights if --ema), best.pt
(best mean validation accuracy over the degradation kinds), train_state.pt (optimizer etc. for
--resume), summary.json.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["main", "build_parser", "TrainError", "parse_degradations"]

DEFAULT_DEGRADATIONS = "none:0.25,udc-toled:0.25,udc-poled:0.25,lowlight:0.25"


class TrainError(RuntimeError):
    """A user-facing training failure (bad input, mismatched checkpoint, non-finite loss...)."""


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lrdif-train",
        description="Train LRDif. stage1: FPEN_S1 + UDCformer (CE). stage2: PNET_S2 + denoiser + UDCformer "
                    "(CE + KL to the frozen stage-1 EPR).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("stage", choices=["stage1", "stage2"])
    p.add_argument("--preset", default=None,
                   help="model preset (tiny|mobile|paper); stage1 default mobile, stage2 default = the teacher's")
    p.add_argument("--data", default=None,
                   help="dataset: FERPlus npz (default <project>/../shared/data/ferplus/ferplus_48x48_uint8.npz, "
                        "or $LRDIF_SHARED_DATA/ferplus/...), fer2013.csv, RAF-DB/KDEF/class folder. A relative path "
                        "is tried against the working directory, then the project root, then the shared data folder")
    p.add_argument("--classes", type=int, choices=[7, 8], default=None,
                   help="7 drops contempt; stage2 default = the teacher's, stage1 default 8")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--lr", type=float, default=3.5e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=None, help="linear LR warm-up (default: 3%% of the steps, <= 500)")
    p.add_argument("--min-lr-ratio", type=float, default=0.02, help="cosine floor as a fraction of --lr")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default runs/<stage>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="resume from OUT/train_state.pt (or the given train_state.pt)")
    p.add_argument("--teacher", default=None, help="stage2: the stage-1 checkpoint (default OUT/../stage1/best.pt)")
    p.add_argument("--degradations", default=DEFAULT_DEGRADATIONS,
                   help="training mix kind:weight,... (kinds: none, udc-toled, udc-poled, lowlight)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (tests)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (after validating and saving) once this much wall time has passed")
    p.add_argument("--warmup-prior-epochs", type=float, default=0.0,
                   help="stage2: first train PNET_S2 + denoiser with the KL loss only for this many epochs")
    p.add_argument("--no-diffusion", action="store_true", help="ablation V1: PNET_S2 output used directly as Z")
    p.add_argument("--no-insert-noise", action="store_true",
                   help="ablation V4: stage-2 chain starts from zero, not from the noised teacher Z")
    p.add_argument("--loss", choices=["ce", "ce+kl"], default="ce+kl", help="stage2 loss (ce = ablation V2)")
    p.add_argument("--kl-weight", type=float, default=1.0)
    p.add_argument("--soft-targets", action="store_true",
                   help="CE against the FER+ vote distribution instead of the majority label")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights (0 = off); EMA weights are saved")
    p.add_argument("--amp", choices=["off", "bf16"], default="off",
                   help="bf16: forward and backward under CPU bfloat16 autocast (weights, optimizer, losses and "
                        "validation stay float32); ~1.4x faster steps on CPUs with AVX512-BF16/AMX")
    p.add_argument("--no-augment", action="store_true", help="disable flip/affine augmentation")
    p.add_argument("--dedup", action="store_true",
                   help="drop training images that are exact duplicates of a PublicTest/PrivateTest image")
    p.add_argument("--val-every", type=float, default=1.0, help="validate every N epochs (fractions allowed)")
    p.add_argument("--val-size", type=int, default=1000, help="fixed PublicTest subset size (0 = all)")
    p.add_argument("--val-kinds", default=None,
                   help="degradation kinds to validate under (default: the kinds of --degradations)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: 1 per process under torchrun)")
    p.add_argument("--log-every", type=int, default=50, help="CSV/progress row every N steps")
    p.add_argument("--cache-dir", default=None, help="landmark cache folder (default $LRDIF_CACHE_DIR / user cache)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--debug-nan-step", type=int, default=None, help=argparse.SUPPRESS)  # test hook
    return p


def parse_degradations(spec: str) -> dict[str, float]:
    from lrdif.training.degrade import KINDS
    out: dict[str, float] = {}
    for part in [s.strip() for s in spec.split(",") if s.strip()]:
        kind, _, w = part.partition(":")
        kind = kind.strip()
        if kind not in KINDS:
            raise TrainError(f"--degradations: unknown kind {kind!r} (valid: {', '.join(KINDS)})")
        try:
            out[kind] = float(w) if w else 1.0
        except ValueError:
            raise TrainError(f"--degradations: bad weight {w!r} for {kind}") from None
        if out[kind] < 0:
            raise TrainError(f"--degradations: negative weight for {kind}")
    if not out or sum(out.values()) <= 0:
        raise TrainError(f"--degradations: need at least one kind with a positive weight, got {spec!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: usage error (2) or --help (0)
        return int(e.code or 0)
    try:
        return _run(args)
    except TrainError as e:
        print(f"lrdif-train: error: {e}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("lrdif-train: interrupted", file=sys.stderr)
        return 130
    finally:
        _dist_cleanup()


# ----------------------------------------------------------------------------- distributed


class _Dist:
    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group("gloo")
            self.dist = dist

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            self.dist.barrier()

    def allreduce_grads(self, params: list[torch.nn.Parameter]) -> None:
        if not self.enabled:
            return
        params = [p for p in params if p.grad is not None]  # same set on every rank (same code path)
        if not params:
            return
        grads = [p.grad for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.dist.all_reduce(flat)
        flat /= self.world
        off = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[off:off + n].view_as(p).clone()
            off += n

    def broadcast_params(self, model: torch.nn.Module) -> None:
        if self.enabled:
            for t in list(model.parameters()) + list(model.buffers()):
                self.dist.broadcast(t.data, 0)

    def any_flag(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        self.dist.all_reduce(t)
        return bool(t.item() > 0)

    def sum_tensor(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            self.dist.all_reduce(t)
        return t


def _dist_cleanup() -> None:
    try:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass


# ----------------------------------------------------------------------------- helpers


def _log(msg: str, dist: _Dist | None = None) -> None:
    if dist is None or dist.main:
        print(f"[lrdif-train] {msg}", file=sys.stderr, flush=True)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _image_hashes(images: np.ndarray) -> list[bytes]:
    return [hashlib.blake2b(im.tobytes(), digest_size=16).digest() for im in images]


def dedup_against_test(images: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, dict]:
    """Boolean keep-mask over all rows: False for TRAINING rows whose pixels exactly equal a
    PublicTest/PrivateTest image. Returns (keep, info)."""
    hashes = _image_hashes(images)
    test_h = {h for h, s in zip(hashes, split) if s in (1, 2)}
    keep = np.ones(len(images), bool)
    for i, (h, s) in enumerate(zip(hashes, split)):
        if s == 0 and h in test_h:
            keep[i] = False
    groups = {h for h, s in zip(hashes, split) if s == 0 and h in test_h}
    return keep, {"dedup_removed_train_images": int((~keep).sum()), "dedup_groups_spanning": len(groups)}


class _EMA:
    """EMA of the weights with the usual warm-up: decay_n = min(decay, (1 + n) / (10 + n)), so the
    average forgets the random initialisation within a few hundred steps even in short runs."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if v.is_floating_point():
                s.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                s.copy_(v)

    def state_dict(self) -> dict:
        return self.shadow


def _lr_lambda(total: int, warmup: int, floor: float):
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        prog = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * prog))
    return f


def _rng_for(seed: int, *parts: int) -> torch.Generator:
    g = torch.Generator()
    s = seed
    for p in parts:
        s = (s * 1_000_003 + p + 7919) % (2 ** 63 - 1)
    g.manual_seed(s)
    return g


# ----------------------------------------------------------------------------- model / checkpoint


def _build_config(preset: str, classes: int, args) -> Any:
    from lrdif.training.model import PRESETS, get_config
    if preset not in PRESETS:
        raise TrainError(f"unknown preset {preset!r}; valid presets: {', '.join(sorted(PRESETS))}")
    ov: dict[str, Any] = {"num_classes": classes}
    if args.no_diffusion:
        ov["diffusion"] = False
    if args.no_insert_noise:
        ov["insert_noise"] = False
    try:
        return get_config(preset, **ov)
    except ValueError as e:
        raise TrainError(str(e)) from None


def _load_teacher(path: Path, args) -> tuple[Any, Any, dict]:
    """A stage-1 checkpoint, or a stage-1 train_state.pt (its raw, non-EMA weights)."""
    from lrdif.training.checkpoint import load_checkpoint
    if not path.is_file():
        raise TrainError(f"stage-1 teacher checkpoint not found: {path} (train stage1 first or pass --teacher)")
    if path.name.endswith("train_state.pt") or "train_state" in path.name:
        from lrdif.training.model import LRDif, LRDifConfig
        try:
            st = torch.load(path, map_location="cpu", weights_only=False)
            if st.get("format") != "lrdif.train_state/1":
                raise ValueError("not an lrdif training state")
            if st.get("stage") != 1:
                raise ValueError(f"training state is stage {st.get('stage')}, expected stage 1")
            cfg = LRDifConfig.from_dict(st["config"])
            model = LRDif(cfg)
            model.load_state_dict(st["model"])
        except Exception as e:
            raise TrainError(f"cannot use teacher training state {path}: {e}") from None
        return model, cfg, {"preset": st.get("preset"), "stage": 1,
                            "meta": {"source": "train_state (raw weights)", "global_step": st.get("global_step")}}
    try:
        model, cfg, ckpt = load_checkpoint(str(path), expected_stage=1)
    except Exception as e:
        raise TrainError(f"cannot use teacher checkpoint {path}: {e}") from None
    return model, cfg, ckpt


# ----------------------------------------------------------------------------- evaluation (shared)


@torch.no_grad()
def predict_logits(model, crops_u8: torch.Tensor, landmarks: torch.Tensor, *, stage: int,
                   labels: torch.Tensor | None = None, degradation=None, seed: int = 0,
                   batch_size: int = 256, steps: int | None = None, start: str = "zero",
                   return_features: bool = False, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (N,K) for uint8 crops under a degradation (deterministic given seed). stage 1 uses the
    labels (LRDif_S1, ground truth prior); stage 2 runs the reverse diffusion from Z_T = 0
    (`start="zero"`, the exported inference path) or from N(0, I) (`start="noise"`).
    Features (optional) are the EPR fed to the UDCformer (Z or z_hat)."""
    from lrdif.training.data import normalise
    was = model.training
    model.eval()
    gen = _rng_for(seed, 12345)
    outs, feats = [], []
    n = crops_u8.shape[0]
    it = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="eval", unit="batch", leave=False)
    for i in it:
        x = crops_u8[i:i + batch_size].float() / 255.0
        if degradation is not None:
            x = degradation(x, gen).clamp_(0, 1)
        x = normalise(x)
        lm = landmarks[i:i + batch_size]
        if stage == 1:
            logits, z = model.forward_stage1(x, lm, labels[i:i + batch_size])
        else:
            if start == "noise" and model.cfg.diffusion:
                # chain from a random Z_T (the noise the chain was trained to denoise)
                zt = torch.randn(x.shape[0], model.cfg.epr_dim, generator=gen)
                z = _estimate_from(model, x, zt, steps)
                logits = model.udcformer(x, lm, z)
            else:
                logits, z = model.forward_stage2(x, lm, steps=steps)
        outs.append(logits.float())
        if return_features:
            feats.append(z.float())
    model.train(was)
    return torch.cat(outs) if outs else torch.zeros(0), (torch.cat(feats) if return_features and feats else None)


def _estimate_from(model, x: torch.Tensor, z_T: torch.Tensor, steps: int | None) -> torch.Tensor:
    from lrdif.training.model.lrdif import make_schedule, reverse_chain, sinusoidal_table
    cfg = model.cfg
    cond = model.pnet_s2(x)
    n = cfg.diffusion_steps if steps is None else int(steps)
    sched = make_schedule(n, cfg.beta_start, cfg.beta_end)
    table = model.time_table if n == cfg.diffusion_steps else sinusoidal_table(n, cfg.time_emb_dim, cfg.diffusion_steps).to(cond)
    return reverse_chain(model.denoiser, z_T, cond, table, sched)


# ----------------------------------------------------------------------------- main loop


def _train_forward(model, stage: int, prior_only: bool, x_in: torch.Tensor, x_clean: torch.Tensor,
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


def _prepare_data(args, dist: _Dist, classes: int, input_size: int):
    from lrdif.training.data import prepare_crops, resolve_data_path
    from lrdif.training.datasets import DatasetError, load_dataset

    path = resolve_data_path(args.data)
    try:
        ds = load_dataset(path, split=None, classes=classes, progress=dist.main and not args.no_progress)
    except DatasetError as e:
        raise TrainError(str(e)) from None
    info: dict[str, Any] = {"data": str(path), "dataset": ds.name, "n_total": len(ds), "classes": classes}
    if len(ds) == 0:
        raise TrainError(f"{path}: dataset is empty")
    # landmark cache: rank 0 computes (and writes the disk cache) first, the others then read it
    t0 = time.time()
    try:
        if dist.main:
            crops, cinfo = prepare_crops(ds, size=input_size, cache_dir=args.cache_dir, progress=not args.no_progress)
        dist.barrier()
        if not dist.main:
            crops, cinfo = prepare_crops(ds, size=input_size, cache_dir=args.cache_dir, progress=False)
    except (RuntimeError, OSError, ValueError) as e:
        raise TrainError(f"cannot compute the face crops / landmark cache for {path}: {e}") from None
    info.update(cinfo)
    info["crop_seconds"] = round(time.time() - t0, 1)

    n = len(ds)
    if ds.split is not None:
        train_mask = ds.split == 0
        val_idx = np.flatnonzero(ds.split == 1)
        val_src = "PublicTest (split 1)"
        if args.dedup:
            keep, dinfo = dedup_against_test(ds.images, ds.split)
            train_mask &= keep
            info.update(dinfo)
            _log(f"--dedup: removed {dinfo['dedup_removed_train_images']} training images that duplicate a "
                 f"test-split image ({dinfo['dedup_groups_spanning']} distinct images)", dist)
        train_idx = np.flatnonzero(train_mask)
        if len(val_idx) == 0:  # e.g. RAF-DB / KDEF: hold out 10% of train
            rs = np.random.RandomState(1234)
            perm = rs.permutation(train_idx)
            k = max(1, len(perm) // 10)
            val_idx, train_idx = np.sort(perm[:k]), np.sort(perm[k:])
            val_src = "10% of the training split (held out)"
    else:
        train_idx = np.arange(n)
        if n >= 200:
            rs = np.random.RandomState(1234)
            perm = rs.permutation(n)
            k = n // 10
            val_idx, train_idx = np.sort(perm[:k]), np.sort(perm[k:])
            val_src = "10% held out (no split in the data)"
        else:
            val_idx = np.arange(n)
            val_src = "the training images (tiny set without a split; not a real validation)"
            if args.dedup:
                _log("--dedup ignored: the data has no split", dist)
    if args.val_size and len(val_idx) > args.val_size:
        rs = np.random.RandomState(4321)
        val_idx = np.sort(rs.choice(val_idx, args.val_size, replace=False))
    if len(train_idx) == 0:
        raise TrainError(f"{path}: no training images")
    info.update({"n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "val_source": val_src})
    return crops.subset(train_idx), crops.subset(val_idx), info


def _run(args) -> int:
    stage = 1 if args.stage == "stage1" else 2
    dist = _Dist()
    threads = args.threads or (1 if dist.enabled else None)
    if threads:
        torch.set_num_threads(threads)
    if args.batch_size < 1 or args.epochs < 1:
        raise TrainError("--batch-size and --epochs must be >= 1")
    if args.max_steps is not None and args.max_steps < 1:
        raise TrainError("--max-steps must be >= 1")
    if args.label_smoothing < 0 or args.label_smoothing >= 1:
        raise TrainError("--label-smoothing must be in [0, 1)")
    if not (0.0 <= args.ema < 1.0):
        raise TrainError("--ema must be in [0, 1)")
    weights = parse_degradations(args.degradations)
    from lrdif.training.degrade import MixedDegradation, make_degradation
    from lrdif.training.checkpoint import save_checkpoint
    from lrdif.training.model import LRDif, epr_kl_loss
    from lrdif.sdk.labels import labels_for

    out = Path(args.out) if args.out else Path("runs") / args.stage
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    dist.barrier()

    # ---------------- resume state
    state = None
    if args.resume:
        sp = out / "train_state.pt" if args.resume == "auto" else Path(args.resume)
        if not sp.is_file():
            raise TrainError(f"--resume: no training state at {sp}")
        try:
            state = torch.load(sp, map_location="cpu", weights_only=False)
        except Exception as e:
            raise TrainError(f"--resume: cannot read {sp}: {e}") from None
        if state.get("stage") != stage:
            raise TrainError(f"--resume: {sp} is a stage-{state.get('stage')} state, not stage {stage}")

    # ---------------- model + config
    teacher_info: dict[str, Any] = {}
    if stage == 1:
        preset = args.preset or (state["preset"] if state else "mobile")
        classes = args.classes or (state["config"]["num_classes"] if state else 8)
        cfg = _build_config(preset, classes, args)
        torch.manual_seed(args.seed)
        try:
            model = LRDif(cfg)
        except Exception as e:
            raise TrainError(f"cannot build the model for preset {preset!r}: {e}") from None
    else:
        tpath = Path(args.teacher) if args.teacher else out.parent / "stage1" / "best.pt"
        if state is not None and not args.teacher:
            tpath = Path(state["teacher"])
        tmodel, tcfg, tckpt = _load_teacher(tpath, args)
        preset = args.preset or tckpt.get("preset", "mobile")
        if args.preset and tckpt.get("preset") and args.preset != tckpt.get("preset"):
            raise TrainError(f"--preset {args.preset} does not match the teacher checkpoint {tpath} "
                             f"(preset {tckpt.get('preset')!r})")
        classes = args.classes or tcfg.num_classes
        if classes != tcfg.num_classes:
            raise TrainError(f"--classes {classes} does not match the teacher checkpoint {tpath} "
                             f"({tcfg.num_classes} classes)")
        ov = {}
        if args.no_diffusion:
            ov["diffusion"] = False
        if args.no_insert_noise:
            ov["insert_noise"] = False
        cfg = dataclasses.replace(tcfg, **ov)
        torch.manual_seed(args.seed)
        model = LRDif(cfg)
        missing, unexpected = model.load_state_dict(tmodel.state_dict(), strict=False)
        bad = [k for k in list(missing) + list(unexpected) if not k.startswith(("denoiser.", "pnet_s2."))]
        if bad:
            raise TrainError(f"teacher checkpoint {tpath} does not fit the stage-2 model: {bad[:5]}")
        teacher_info = {"teacher": str(tpath), "teacher_meta": {k: v for k, v in (tckpt.get("meta") or {}).items()
                                                               if isinstance(v, (int, float, str, bool))}}
        del tmodel
    if state is not None:
        if state["config"] != cfg.to_dict():
            raise TrainError("--resume: the saved state was trained with a different model config "
                             "(preset/classes/ablation flags); use the same arguments or a new --out")
        model.load_state_dict(state["model"])

    # which modules train
    for p in model.parameters():
        p.requires_grad_(False)
    trainable = [model.fpen_s1, model.udcformer] if stage == 1 else [model.pnet_s2, model.udcformer] + (
        [model.denoiser] if model.denoiser is not None else [])
    for m in trainable:
        for p in m.parameters():
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    dist.broadcast_params(model)

    # ---------------- data
    train, val, dinfo = _prepare_data(args, dist, classes, cfg.input_size)
    _log(f"data: {dinfo['data']} -> train {dinfo['n_train']}, val {dinfo['n_val']} ({dinfo['val_source']}); "
         f"faces found {dinfo.get('faces_found')}/{dinfo['n_total']}", dist)
    mix = MixedDegradation(weights)
    val_kinds = [k.strip() for k in args.val_kinds.split(",")] if args.val_kinds else list(mix.kinds)
    try:
        val_degs = {k: make_degradation(k) for k in val_kinds}
    except ValueError as e:
        raise TrainError(f"--val-kinds: {e}") from None

    # ---------------- optimisation
    bs = args.batch_size
    n_train = len(train)
    per_rank = n_train // dist.world
    steps_per_epoch = max(1, per_rank // bs) if per_rank >= bs else 1
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    warmup = args.warmup_steps if args.warmup_steps is not None else min(500, int(0.03 * total_steps))
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(total_steps, warmup, args.min_lr_ratio))
    ema = _EMA(model, args.ema) if args.ema > 0 else None
    global_step, start_epoch, start_batch, best = 0, 0, 0, -1.0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if ema is not None and state.get("ema") is not None:
            ema.shadow = state["ema"]
            ema.updates = int(state.get("ema_updates", state["global_step"]))
        global_step, start_epoch, start_batch = state["global_step"], state["epoch"], state["batch_in_epoch"]
        best = state.get("best", -1.0)
        _log(f"resumed from step {global_step} (epoch {start_epoch}, batch {start_batch})", dist)
    prior_warm_steps = int(round(args.warmup_prior_epochs * steps_per_epoch)) if stage == 2 else 0
    use_kl = stage == 2 and args.loss == "ce+kl"

    # ---------------- logging
    csv_path = out / "train_log.csv"
    cols = ["epoch", "step", "phase", "loss", "loss_ce", "loss_kl", "train_acc"] + \
           [f"val_acc_{k}" for k in val_kinds] + ["val_acc_mean", "lr", "time_s"]
    if dist.main and (state is None or not csv_path.exists()):
        with open(csv_path, "w", newline="") as f:
            csv.writer(f).writerow(cols)
    t_start = time.time() - (state.get("elapsed", 0.0) if state else 0.0)

    def write_row(row: dict) -> None:
        if dist.main:
            with open(csv_path, "a", newline="") as f:
                csv.writer(f).writerow([row.get(c, "") for c in cols])

    run_meta = {
        "stage": stage, "preset": preset, "classes": classes, "labels": list(labels_for(classes)),
        "degradations": weights, "loss": ("ce" if stage == 1 else args.loss), "seed": args.seed,
        "batch_size": bs, "world_size": dist.world, "lr": args.lr, "weight_decay": args.weight_decay,
        "epochs": args.epochs, "ema": args.ema, "label_smoothing": args.label_smoothing,
        "soft_targets": args.soft_targets, "augment": not args.no_augment, "dedup": args.dedup, "amp": args.amp,
        "diffusion": cfg.diffusion, "insert_noise": cfg.insert_noise, **dinfo, **teacher_info,
    }
    run_meta = {k: (v if isinstance(v, (int, float, str, bool, list, dict, type(None))) else str(v))
                for k, v in run_meta.items()}

    eval_model = copy.deepcopy(model) if ema is not None else model

    def validate() -> dict[str, float]:
        m = model
        if ema is not None:
            eval_model.load_state_dict(ema.shadow)
            m = eval_model
        accs = {}
        for k, deg in val_degs.items():
            logits, _ = predict_logits(m, val.crops, val.landmarks, stage=stage, labels=val.labels,
                                       degradation=deg, seed=args.seed + 1)
            accs[k] = float((logits.argmax(1) == val.labels).float().mean()) if len(val) else float("nan")
        accs["mean"] = float(np.mean([accs[k] for k in val_degs])) if val_degs else float("nan")
        return accs

    def save(tag_best: bool, epoch: int, batch_in_epoch: int, accs: dict | None) -> None:
        if not dist.main:
            return
        meta = dict(run_meta, epoch=epoch, global_step=global_step,
                    val_acc={k: round(v, 5) for k, v in (accs or {}).items()},
                    elapsed_s=round(time.time() - t_start, 1))
        src = model
        if ema is not None:
            eval_model.load_state_dict(ema.shadow)
            src = eval_model
        save_checkpoint(str(out / "last.pt"), src, cfg, stage, preset, meta=meta)
        if tag_best:
            save_checkpoint(str(out / "best.pt"), src, cfg, stage, preset, meta=meta)
        try:
            from lrdif.training.plots import plot_training_curves
            plot_training_curves(csv_path, out / "curves.png", title=f"LRDif stage {stage} ({preset})")
        except Exception as e:  # plotting must never fail a run
            _log(f"warning: could not plot curves: {e}")
        _atomic_torch_save({
            "format": "lrdif.train_state/1", "stage": stage, "preset": preset, "config": cfg.to_dict(),
            "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "ema": ema.shadow if ema is not None else None, "global_step": global_step,
            "ema_updates": ema.updates if ema is not None else 0,
            "epoch": epoch, "batch_in_epoch": batch_in_epoch, "best": best,
            "elapsed": time.time() - t_start, "teacher": teacher_info.get("teacher"), "args": vars(args),
        }, out / "train_state.pt")

    # ---------------- loop
    _log(f"stage {stage}: preset {preset}, {classes} classes, {sum(p.numel() for p in params):,} trainable "
         f"params, {steps_per_epoch} steps/epoch x {args.epochs} epochs (stop at {total_steps}), batch {bs} x "
         f"{dist.world} proc, threads {torch.get_num_threads()}, out {out}", dist)
    from lrdif.training.data import augment_batch, normalise
    show = dist.main and not args.no_progress
    val_every_steps = max(1, int(round(args.val_every * steps_per_epoch)))
    stop = False
    accs: dict | None = None
    last_val_step = -1
    epoch = start_epoch
    run_loss = run_ce = run_kl = 0.0
    run_correct = run_n = run_steps = 0
    model.train()
    if stage == 2:
        model.fpen_s1.eval()
    while epoch < args.epochs and not stop:
        from torch.utils.data import DistributedSampler
        sampler = DistributedSampler(range(n_train), num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                     seed=args.seed, drop_last=True)
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)), dtype=torch.long)
        gen = _rng_for(args.seed, epoch, dist.rank)
        nb = steps_per_epoch
        b0 = start_batch if epoch == start_epoch else 0
        bar = None
        if show:
            from tqdm import tqdm
            bar = tqdm(total=nb, initial=b0, desc=f"stage{stage} ep {epoch + 1}/{args.epochs}", unit="step",
                       dynamic_ncols=True, file=sys.stderr)
        for b in range(b0, nb):
            idx = order[b * bs:(b + 1) * bs]
            if len(idx) == 0:
                idx = order[:bs]
            x = train.crops[idx].float().div_(255.0)
            lm = train.landmarks[idx]
            y = train.labels[idx]
            if not args.no_augment:
                x, lm = augment_batch(x, lm, gen)
            x_deg = mix(x, gen).clamp_(0, 1)
            x_in = normalise(x_deg)
            prior_only = stage == 2 and global_step < prior_warm_steps
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp == "bf16"):
                logits, z_t, z_hat = _train_forward(model, stage, prior_only, x_in, normalise(x), lm, y)
            if logits is not None:
                logits = logits.float()
            if stage == 1:
                loss_kl = torch.zeros(())
            else:
                loss_kl = epr_kl_loss(z_t.float(), z_hat.float()) if (use_kl or prior_only) else torch.zeros(())
            if logits is not None:
                if args.soft_targets:
                    loss_ce = F.cross_entropy(logits, train.targets[idx], label_smoothing=args.label_smoothing)
                else:
                    loss_ce = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            else:
                loss_ce = torch.zeros(())
            loss = (loss_kl * args.kl_weight) if prior_only else loss_ce + args.kl_weight * loss_kl
            if args.debug_nan_step is not None and global_step == args.debug_nan_step:
                loss = loss * float("nan")
            bad = not bool(torch.isfinite(loss.detach()))
            if dist.any_flag(bad):
                raise TrainError(f"non-finite loss ({float(loss.detach()):.4g}) at step {global_step} (epoch {epoch + 1}, "
                                 f"batch {b}; lr {sched.get_last_lr()[0]:.3g}); stopping. Lower --lr or check the data")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            dist.allreduce_grads(params)
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model)
            global_step += 1
            run_steps += 1
            run_loss += float(loss.detach())
            run_ce += float(loss_ce.detach())
            run_kl += float(loss_kl.detach())
            if logits is not None:
                run_correct += int((logits.argmax(1) == y).sum())
                run_n += len(y)
            if bar is not None:
                bar.update(1)
                if global_step % 10 == 0 or b == nb - 1:
                    bar.set_postfix(loss=f"{float(loss.detach()):.3f}",
                                    acc=f"{run_correct / max(1, run_n):.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
            at_end = (b == nb - 1)
            hit_max = args.max_steps is not None and global_step >= args.max_steps
            out_of_time = args.max_minutes is not None and (time.time() - t_start) > args.max_minutes * 60
            out_of_time = dist.any_flag(out_of_time)
            do_log = global_step % args.log_every == 0 or at_end or hit_max or out_of_time
            last_epoch = at_end and epoch == args.epochs - 1
            do_val = global_step % val_every_steps == 0 or last_epoch or hit_max or out_of_time
            if do_log:
                nlog = max(1, run_steps)
                write_row({"epoch": epoch + 1, "step": global_step, "phase": "train",
                           "loss": f"{run_loss / nlog:.5f}", "loss_ce": f"{run_ce / nlog:.5f}",
                           "loss_kl": f"{run_kl / nlog:.5f}",
                           "train_acc": f"{run_correct / run_n:.5f}" if run_n else "",
                           "lr": f"{sched.get_last_lr()[0]:.6g}", "time_s": f"{time.time() - t_start:.1f}"})
                run_loss = run_ce = run_kl = 0.0
                run_correct = run_n = run_steps = 0
            if do_val and global_step != last_val_step:
                if dist.main:
                    accs = validate()
                    last_val_step = global_step
                    write_row({"epoch": epoch + 1, "step": global_step, "phase": "val",
                               **{f"val_acc_{k}": f"{accs[k]:.5f}" for k in val_kinds},
                               "val_acc_mean": f"{accs['mean']:.5f}", "lr": f"{sched.get_last_lr()[0]:.6g}",
                               "time_s": f"{time.time() - t_start:.1f}"})
                    # stage 1 validates with the ground-truth prior and saturates near 100%: ties go to the
                    # later checkpoint (its UDCformer initialises stage 2)
                    is_best = accs["mean"] >= best if stage == 1 else accs["mean"] > best
                    if is_best:
                        best = accs["mean"]
                    nxt_epoch, nxt_b = (epoch + 1, 0) if at_end else (epoch, b + 1)
                    save(is_best, nxt_epoch, nxt_b, accs)
                    msg = ", ".join(f"{k} {v:.4f}" for k, v in accs.items())
                    (bar.write if bar is not None else _log)(f"step {global_step}: val acc {msg}" +
                                                             (" (best)" if is_best else ""))
                dist.barrier()
            elif at_end:
                save(False, epoch + 1, 0, accs)
                dist.barrier()
            if hit_max or out_of_time:
                stop = True
                if out_of_time:
                    _log(f"--max-minutes {args.max_minutes} reached at step {global_step}", dist)
                break
        if bar is not None:
            bar.close()
        epoch += 1
        start_batch = 0

    # ---------------- finish
    if dist.main:
        try:
            from lrdif.training.plots import plot_training_curves
            plot_training_curves(csv_path, out / "curves.png", title=f"LRDif stage {stage} ({preset})")
        except Exception as e:  # plotting must never fail a run
            _log(f"warning: could not plot curves: {e}")
        summary = dict(run_meta, global_step=global_step, best_val_acc_mean=best, last_val_acc=accs,
                       elapsed_s=round(time.time() - t_start, 1), out=str(out))
        _atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
        _log(f"done: {global_step} steps in {time.time() - t_start:.0f}s; best mean val acc {best:.4f}; "
             f"checkpoints in {out}")
    dist.barrier()
    return 0


if __name__ == "__main__":
    sys.exit(main())
