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
import csv
import dataclasses
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["main", "build_parser", "TrainError", "parse_degradations"]

DEFAULT_DEGRADATIONS = "none:0.25,udc-toled:0.25,udc-poled:0.25,lowlight:0.25"


from lrdif.training.distributed import Dist, cleanup as _dist_cleanup
from lrdif.training.errors import TrainError


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
    p.add_argument("--init", default=None, metavar="STAGE2_CKPT",
                   help="stage2 fine-tune: start every weight from this stage-2 checkpoint; its frozen FPEN_S1 "
                        "is the teacher (so --teacher is not used)")
    p.add_argument("--degradations", default=DEFAULT_DEGRADATIONS,
                   help="training mix kind:weight,... (kinds: none and lrdif.training.degrade.TRAINING_KINDS; the "
                        "held-out udc-unseen / lowlight-unseen test ranges are refused)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (tests)")
    p.add_argument("--stop-at-step", type=int, default=None, metavar="N",
                   help="save and stop after global step N without shortening the schedule (unlike "
                        "--max-steps); --resume continues exactly, so a long recipe can span sessions")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop (after validating and saving) once this much wall time has passed")
    p.add_argument("--warmup-prior-epochs", type=float, default=0.0,
                   help="stage2: first train PNET_S2 + denoiser with the KL loss only for this many epochs")
    p.add_argument("--face-trunk", type=int, default=None, metavar="T",
                   help="add MediaPipe FaceMesh's pretrained trunk at T x T px (S/2, S or 2S; 128 for mobile) "
                        "feeding UDCformer's image branch (issue #12); needs lrdif-setup's face_landmark.tflite")
    p.add_argument("--no-diffusion", action="store_true", help="ablation V1: PNET_S2 output used directly as Z")
    p.add_argument("--no-insert-noise", action="store_true",
                   help="ablation V4: stage-2 chain starts from zero, not from the noised teacher Z")
    p.add_argument("--loss", choices=["ce", "ce+kl"], default="ce+kl", help="stage2 loss (ce = ablation V2)")
    p.add_argument("--kl-weight", type=float, default=1.0)
    p.add_argument("--soft-targets", action="store_true",
                   help="CE against the FER+ vote distribution instead of the majority label")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--logit-adjust", type=float, default=0.0, metavar="TAU",
                   help="logit-adjusted loss for rare classes (Menon et al. 2021): the training loss sees "
                        "logits + TAU * log(class prior of the training targets); 0 = plain cross-entropy")
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
    p.add_argument("--model-version", default=None,
                   help="version recorded in the checkpoints and carried by every exported artifact")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--debug-nan-step", type=int, default=None, help=argparse.SUPPRESS)  # test hook
    return p


def parse_degradations(spec: str) -> dict[str, float]:
    from lrdif.training.degrade import HELD_OUT_KINDS, TRAINING_KINDS
    valid = ("none",) + TRAINING_KINDS
    out: dict[str, float] = {}
    for part in [s.strip() for s in spec.split(",") if s.strip()]:
        kind, _, w = part.partition(":")
        kind = kind.strip()
        if kind in HELD_OUT_KINDS:
            raise TrainError(f"--degradations: {kind!r} is a held-out test range, not a training kind "
                             f"(valid: {', '.join(valid)})")
        if kind not in valid:
            raise TrainError(f"--degradations: unknown kind {kind!r} (valid: {', '.join(valid)})")
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


# ----------------------------------------------------------------------------- setup


def _log(msg: str, dist: Dist | None = None) -> None:
    if dist is None or dist.main:
        print(f"[lrdif-train] {msg}", file=sys.stderr, flush=True)


def _check_args(args) -> None:
    if args.batch_size < 1 or args.epochs < 1:
        raise TrainError("--batch-size and --epochs must be >= 1")
    if args.stop_at_step is not None and args.stop_at_step < 1:
        raise TrainError(f"--stop-at-step must be >= 1, got {args.stop_at_step}")
    if args.max_steps is not None and args.max_steps < 1:
        raise TrainError("--max-steps must be >= 1")
    if args.label_smoothing < 0 or args.label_smoothing >= 1:
        raise TrainError("--label-smoothing must be in [0, 1)")
    if not (0.0 <= args.logit_adjust <= 5.0):
        raise TrainError(f"--logit-adjust must be in [0, 5], got {args.logit_adjust}")
    if not (0.0 <= args.ema < 1.0):
        raise TrainError("--ema must be in [0, 1)")
    if args.amp == "bf16" and not _cpu_has_bf16():
        _log("warning: --amp bf16 on a CPU without native bf16 (no AVX512-BF16/AMX: oneDNN reports no bf16 "
             "support) runs emulated, several times slower than float32 here; use --amp off on this machine")
    if args.init and args.teacher:
        raise TrainError("--init and --teacher exclude each other: the --init checkpoint carries its teacher")


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _load_resume_state(args, out: Path, stage: int) -> dict | None:
    if not args.resume:
        return None
    from lrdif.training.checkpoint import load_train_state
    sp = out / "train_state.pt" if args.resume == "auto" else Path(args.resume)
    try:
        return load_train_state(sp, stage)
    except FileNotFoundError:
        raise TrainError(f"--resume: no training state at {sp}") from None
    except ValueError as e:
        raise TrainError(f"--resume: {e}") from None


def _ablation_overrides(args) -> dict[str, Any]:
    ov: dict[str, Any] = {}
    if args.no_diffusion:
        ov["diffusion"] = False
    if args.no_insert_noise:
        ov["insert_noise"] = False
    if args.face_trunk is not None:
        ov["face_trunk_size"] = args.face_trunk
    return ov


def _init_face_trunk(model, had_trunk: bool) -> None:
    """Start a newly added face trunk from MediaPipe's FaceMesh weights (sha256-checked)."""
    if not model.cfg.face_trunk_size or had_trunk:
        return
    from lrdif.training.facemesh_weights import FaceMeshWeightsError, load_facemesh_state_dict
    from lrdif.training.model.facemesh import FaceMeshTrunkConfig
    try:
        sd = load_facemesh_state_dict(FaceMeshTrunkConfig(input_size=model.cfg.face_trunk_size))
    except FaceMeshWeightsError as e:
        raise TrainError(f"--face-trunk: {e}") from None
    model.udcformer.face_trunk.trunk.load_state_dict(sd, strict=True)


def _build_config(preset: str, classes: int, args) -> Any:
    from lrdif.training.model import PRESETS, get_config
    if preset not in PRESETS:
        raise TrainError(f"unknown preset {preset!r}; valid presets: {', '.join(sorted(PRESETS))}")
    try:
        return get_config(preset, num_classes=classes, **_ablation_overrides(args))
    except ValueError as e:
        raise TrainError(str(e)) from None


def _load_teacher(path: Path, args) -> tuple[Any, Any, dict]:
    """A stage-1 checkpoint, or a stage-1 train_state.pt (its raw, non-EMA weights)."""
    from lrdif.training.checkpoint import load_checkpoint, load_train_state
    if not path.is_file():
        raise TrainError(f"stage-1 teacher checkpoint not found: {path} (train stage1 first or pass --teacher)")
    if "train_state" in path.name:
        from lrdif.training.model import LRDif, LRDifConfig
        try:
            st = load_train_state(path, stage=1)
            cfg = LRDifConfig.from_dict(st["config"])
            model = LRDif(cfg)
            model.load_state_dict(st["model"])
        except Exception as e:
            raise TrainError(f"cannot use teacher training state {path}: {e}") from None
        return model, cfg, {"preset": st.get("preset"), "stage": 1,
                            "meta": {"source": "train_state (raw weights)", "global_step": st.get("global_step")}}
    try:
        return load_checkpoint(str(path), expected_stage=1)
    except Exception as e:
        raise TrainError(f"cannot use teacher checkpoint {path}: {e}") from None


@dataclass
class _Setup:
    stage: int
    preset: str
    classes: int
    cfg: Any
    model: Any
    params: list = field(default_factory=list)
    teacher_info: dict = field(default_factory=dict)


def _stage1_model(args, state: dict | None) -> _Setup:
    from lrdif.training.model import LRDif
    preset = args.preset or (state["preset"] if state else "mobile")
    classes = args.classes or (state["config"]["num_classes"] if state else 8)
    cfg = _build_config(preset, classes, args)
    torch.manual_seed(args.seed)
    try:
        model = LRDif(cfg)
    except Exception as e:
        raise TrainError(f"cannot build the model for preset {preset!r}: {e}") from None
    _init_face_trunk(model, had_trunk=False)
    return _Setup(1, preset, classes, cfg, model)


def _load_init(path: Path) -> tuple[Any, Any, dict]:
    """A stage-2 checkpoint to fine-tune from: all of its weights start the run, its FPEN_S1 teaches."""
    from lrdif.training.checkpoint import load_checkpoint
    if not path.is_file():
        raise TrainError(f"--init: stage-2 checkpoint not found: {path}")
    try:
        return load_checkpoint(str(path), expected_stage=2)
    except Exception as e:
        raise TrainError(f"--init: cannot use {path}: {e}") from None


def _stage2_model(args, state: dict | None, out: Path) -> _Setup:
    from lrdif.training.model import LRDif
    init = args.init or (state or {}).get("init")
    if init:
        tpath = Path(init)
        tmodel, tcfg, tckpt = _load_init(tpath)
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
    try:
        cfg = dataclasses.replace(tcfg, **_ablation_overrides(args))
    except ValueError as e:
        raise TrainError(str(e)) from None
    had_trunk = bool(tcfg.face_trunk_size)
    if had_trunk and cfg.face_trunk_size != tcfg.face_trunk_size:
        raise TrainError(f"--face-trunk {cfg.face_trunk_size} does not match the checkpoint {tpath} "
                         f"(face trunk at {tcfg.face_trunk_size} px)")
    torch.manual_seed(args.seed)
    model = LRDif(cfg)
    missing, unexpected = model.load_state_dict(tmodel.state_dict(), strict=False)
    fresh = ("denoiser.", "pnet_s2.") + (() if had_trunk else ("udcformer.face_trunk.",))
    bad = [k for k in list(missing) + list(unexpected) if not k.startswith(fresh)]
    if bad:
        raise TrainError(f"teacher checkpoint {tpath} does not fit the stage-2 model: {bad[:5]}")
    _init_face_trunk(model, had_trunk)
    info = {"teacher": str(tpath), "teacher_meta": {k: v for k, v in (tckpt.get("meta") or {}).items()
                                                    if isinstance(v, (int, float, str, bool))}}
    if init:
        info["init"] = str(tpath)
    return _Setup(2, preset, classes, cfg, model, teacher_info=info)


def _build_model(args, stage: int, state: dict | None, out: Path, dist: Dist) -> _Setup:
    """The model (stage-1 from scratch, stage-2 from the teacher), resumed weights, trainable params."""
    setup = _stage1_model(args, state) if stage == 1 else _stage2_model(args, state, out)
    model = setup.model
    if state is not None:
        if state["config"] != setup.cfg.to_dict():
            raise TrainError("--resume: the saved state was trained with a different model config "
                             "(preset/classes/ablation flags); use the same arguments or a new --out")
        model.load_state_dict(state["model"])
    for p in model.parameters():
        p.requires_grad_(False)
    trainable = [model.fpen_s1, model.udcformer] if stage == 1 else [model.pnet_s2, model.udcformer] + (
        [model.denoiser] if model.denoiser is not None else [])
    for m in trainable:
        for p in m.parameters():
            p.requires_grad_(True)
    setup.params = [p for p in model.parameters() if p.requires_grad]
    dist.broadcast_params(model)
    return setup


class _StopOnSignal:
    """SIGTERM / SIGINT during fit: finish the current step, save the exact training state, stop
    (`--resume` continues as if never stopped). A second signal interrupts at once."""

    def __init__(self, trainer) -> None:
        self.trainer, self.old = trainer, {}

    def _handle(self, signum, frame) -> None:
        if self.trainer.stop_signal:
            raise KeyboardInterrupt
        self.trainer.stop_signal = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


class _CsvLog:
    """train_log.csv: one row per --log-every steps (train) and per validation (val); rank 0 only."""

    def __init__(self, path: Path, val_kinds: list[str], fresh: bool, enabled: bool) -> None:
        self.path, self.enabled = path, enabled
        self.cols = ["epoch", "step", "phase", "loss", "loss_ce", "loss_kl", "train_acc"] + \
                    [f"val_acc_{k}" for k in val_kinds] + ["val_acc_mean", "lr", "time_s"]
        if enabled and (fresh or not path.exists()):
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(self.cols)

    def row(self, row: dict) -> None:
        if self.enabled:
            with open(self.path, "a", newline="") as f:
                csv.writer(f).writerow([row.get(c, "") for c in self.cols])


def _run_meta(args, setup: _Setup, weights: dict, dist: Dist, dinfo: dict, meta) -> dict[str, Any]:
    from lrdif.sdk.labels import labels_for
    stage = setup.stage
    m = {
        "stage": stage, "preset": setup.preset, "classes": setup.classes,
        "labels": list(labels_for(setup.classes)), "degradations": weights,
        "loss": ("ce" if stage == 1 else args.loss), "seed": args.seed, "batch_size": args.batch_size,
        "world_size": dist.world, "lr": args.lr, "weight_decay": args.weight_decay, "epochs": args.epochs,
        "ema": args.ema, "label_smoothing": args.label_smoothing, "soft_targets": args.soft_targets,
        "augment": not args.no_augment, "dedup": args.dedup, "amp": args.amp,
        "logit_adjust": args.logit_adjust, "diffusion": setup.cfg.diffusion,
        "insert_noise": setup.cfg.insert_noise, **dinfo, **setup.teacher_info,
        "model_metadata": meta.to_dict(),
    }
    if args.model_version:
        m["model_version"] = args.model_version
    return {k: (v if isinstance(v, (int, float, str, bool, list, dict, type(None))) else str(v)) for k, v in m.items()}


def _plot_curves(csv_path: Path, out: Path, stage: int, preset: str) -> None:
    try:
        from lrdif.training.plots import plot_training_curves
        plot_training_curves(csv_path, out / "curves.png", title=f"LRDif stage {stage} ({preset})")
    except Exception as e:  # plotting must never fail a run
        _log(f"warning: could not plot curves: {e}")


# ----------------------------------------------------------------------------- loop


class _Trainer:
    """The epoch loop: steps (`lrdif.training.step`), logging, validation (`Validator`) and
    checkpoints (`lrdif.training.checkpoint`)."""

    def __init__(self, args, setup: _Setup, train, val, dinfo: dict, dist: Dist, out: Path, weights: dict,
                 state: dict | None) -> None:
        from lrdif.training.degrade import MixedDegradation, make_degradation
        from lrdif.training.ema import EMA
        from lrdif.training.inference import model_metadata, normaliser
        from lrdif.training.step import StepSettings, class_log_prior
        from lrdif.training.validation import Validator

        self.args, self.s, self.train, self.dist, self.out = args, setup, train, dist, out
        self.meta = model_metadata(setup.cfg, setup.preset)
        self.norm = normaliser(self.meta)
        self.mix = MixedDegradation(weights)
        val_kinds = [k.strip() for k in args.val_kinds.split(",")] if args.val_kinds else list(self.mix.kinds)
        try:
            val_degs = {k: make_degradation(k) for k in val_kinds}
        except ValueError as e:
            raise TrainError(f"--val-kinds: {e}") from None
        self._optimiser(len(train))
        self.ema = EMA(setup.model, args.ema) if args.ema > 0 else None
        self.global_step, self.start_epoch, self.start_batch, self.best = 0, 0, 0, -1.0
        if state is not None:
            self._restore(state)
        self.validator = Validator(setup.model, val, val_degs, setup.stage, args.seed + 1, self.meta, self.ema)
        self.settings = StepSettings(stage=setup.stage, use_kl=setup.stage == 2 and args.loss == "ce+kl",
                                     kl_weight=args.kl_weight, soft_targets=args.soft_targets,
                                     label_smoothing=args.label_smoothing, augment=not args.no_augment,
                                     amp_bf16=args.amp == "bf16", logit_adjust=args.logit_adjust,
                                     log_prior=class_log_prior(train.targets) if args.logit_adjust else None)
        self.prior_warm_steps = int(round(args.warmup_prior_epochs * self.steps_per_epoch)) if setup.stage == 2 else 0
        self.csv = _CsvLog(out / "train_log.csv", val_kinds, fresh=state is None, enabled=dist.main)
        self.val_kinds = val_kinds
        self.t_start = time.time() - (state.get("elapsed", 0.0) if state else 0.0)
        self.run_meta = _run_meta(args, setup, weights, dist, dinfo, self.meta)
        self.accs: dict | None = None
        self.last_val_step = -1
        self.stop_signal = False
        self._reset_running()

    def _optimiser(self, n_train: int) -> None:
        from lrdif.training.step import lr_lambda
        args, bs = self.args, self.args.batch_size
        per_rank = n_train // self.dist.world
        self.steps_per_epoch = max(1, per_rank // bs) if per_rank >= bs else 1
        total = self.steps_per_epoch * args.epochs
        self.total_steps = min(total, args.max_steps) if args.max_steps else total
        warmup = args.warmup_steps if args.warmup_steps is not None else min(500, int(0.03 * self.total_steps))
        self.opt = torch.optim.AdamW(self.s.params, lr=args.lr, weight_decay=args.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(self.total_steps, warmup, args.min_lr_ratio))

    def _restore(self, state: dict) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load(state["ema"], state.get("ema_updates", state["global_step"]))
        self.global_step, self.start_epoch, self.start_batch = state["global_step"], state["epoch"], state["batch_in_epoch"]
        self.best = state.get("best", -1.0)
        _log(f"resumed from step {self.global_step} (epoch {self.start_epoch}, batch {self.start_batch})", self.dist)

    def _reset_running(self) -> None:
        self.run_loss = self.run_ce = self.run_kl = 0.0
        self.run_correct = self.run_n = self.run_steps = 0

    def _lr(self) -> float:
        return self.sched.get_last_lr()[0]

    def save(self, tag_best: bool, epoch: int, batch_in_epoch: int) -> None:
        if not self.dist.main:
            return
        from lrdif.training.checkpoint import save_checkpoint, save_train_state
        s, out = self.s, self.out
        meta = dict(self.run_meta, epoch=epoch, global_step=self.global_step,
                    val_acc={k: round(v, 5) for k, v in (self.accs or {}).items()},
                    elapsed_s=round(time.time() - self.t_start, 1))
        src = self.validator.weights_model()
        save_checkpoint(str(out / "last.pt"), src, s.cfg, s.stage, s.preset, meta=meta)
        if tag_best:
            save_checkpoint(str(out / "best.pt"), src, s.cfg, s.stage, s.preset, meta=meta)
        _plot_curves(self.csv.path, out, s.stage, s.preset)
        ema = self.ema
        save_train_state(out / "train_state.pt", {
            "stage": s.stage, "preset": s.preset, "config": s.cfg.to_dict(), "model": s.model.state_dict(),
            "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
            "ema": ema.shadow if ema is not None else None, "global_step": self.global_step,
            "ema_updates": ema.updates if ema is not None else 0, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
            "best": self.best, "elapsed": time.time() - self.t_start, "teacher": s.teacher_info.get("teacher"),
            "init": s.teacher_info.get("init"), "args": vars(self.args)})

    def _log_train_row(self, epoch: int) -> None:
        n = max(1, self.run_steps)
        self.csv.row({"epoch": epoch + 1, "step": self.global_step, "phase": "train",
                      "loss": f"{self.run_loss / n:.5f}", "loss_ce": f"{self.run_ce / n:.5f}",
                      "loss_kl": f"{self.run_kl / n:.5f}",
                      "train_acc": f"{self.run_correct / self.run_n:.5f}" if self.run_n else "",
                      "lr": f"{self._lr():.6g}", "time_s": f"{time.time() - self.t_start:.1f}"})
        self._reset_running()

    def _validate_and_save(self, epoch: int, b: int, at_end: bool, bar) -> None:
        if self.dist.main:
            accs = self.accs = self.validator()
            self.last_val_step = self.global_step
            self.csv.row({"epoch": epoch + 1, "step": self.global_step, "phase": "val",
                          **{f"val_acc_{k}": f"{accs[k]:.5f}" for k in self.val_kinds},
                          "val_acc_mean": f"{accs['mean']:.5f}", "lr": f"{self._lr():.6g}",
                          "time_s": f"{time.time() - self.t_start:.1f}"})
            # stage 1 validates with the ground-truth prior and saturates near 100%: ties go to the
            # later checkpoint (its UDCformer initialises stage 2)
            is_best = accs["mean"] >= self.best if self.s.stage == 1 else accs["mean"] > self.best
            if is_best:
                self.best = accs["mean"]
            self.save(is_best, *((epoch + 1, 0) if at_end else (epoch, b + 1)))
            msg = ", ".join(f"{k} {v:.4f}" for k, v in accs.items())
            (bar.write if bar is not None else _log)(f"step {self.global_step}: val acc {msg}" +
                                                     (" (best)" if is_best else ""))
        self.dist.barrier()

    def _step(self, epoch: int, b: int, order: torch.Tensor):
        from lrdif.training.inference import rng_for
        from lrdif.training.step import train_step
        bs, args = self.args.batch_size, self.args
        # every random draw of step b (augmentation, degradation, and the model's own noise through
        # torch's global RNG) derives from (seed, epoch, rank, b) alone: a run resumed mid-epoch
        # continues exactly as the uninterrupted run would have
        gen = rng_for(args.seed, epoch, self.dist.rank, b)
        torch.manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=gen)))
        idx = order[b * bs:(b + 1) * bs]
        if len(idx) == 0:
            idx = order[:bs]
        r = train_step(self.settings, self.s.model, self.train, idx, gen, self.mix, self.norm, self.opt, self.sched,
                       self.s.params, self.dist, self.ema, prior_only=self.s.stage == 2 and self.global_step < self.prior_warm_steps,
                       where=f"step {self.global_step} (epoch {epoch + 1}, batch {b}",
                       poison=args.debug_nan_step is not None and self.global_step == args.debug_nan_step)
        self.global_step += 1
        self.run_steps += 1
        self.run_loss += r.loss
        self.run_ce += r.loss_ce
        self.run_kl += r.loss_kl
        self.run_correct += r.correct
        self.run_n += r.n
        return r

    def _after_step(self, epoch: int, b: int, bar) -> bool:
        """Logging, validation, checkpoints after step `b`; True when the run must stop."""
        args, dist = self.args, self.dist
        at_end = b == self.steps_per_epoch - 1
        hit_max = args.max_steps is not None and self.global_step >= args.max_steps
        timed_out = args.max_minutes is not None and (time.time() - self.t_start) > args.max_minutes * 60
        out_of_time, signalled = dist.any_flags(timed_out, self.stop_signal)     # one collective per step
        hit_max = hit_max or (args.stop_at_step is not None and self.global_step >= args.stop_at_step)
        signalled = signalled and not (hit_max or out_of_time)    # those stops validate and save anyway
        if self.global_step % args.log_every == 0 or at_end or hit_max or out_of_time or signalled:
            self._log_train_row(epoch)
        last_epoch = at_end and epoch == args.epochs - 1
        do_val = self.global_step % max(1, int(round(args.val_every * self.steps_per_epoch))) == 0 \
            or last_epoch or hit_max or out_of_time
        if do_val and self.global_step != self.last_val_step:
            self._validate_and_save(epoch, b, at_end, bar)
        elif at_end or signalled:
            self.save(False, *((epoch + 1, 0) if at_end else (epoch, b + 1)))
            dist.barrier()
        if out_of_time:
            _log(f"--max-minutes {args.max_minutes} reached at step {self.global_step}", dist)
        if signalled:
            _log(f"stopped by a signal after step {self.global_step}; the exact state is in "
                 f"{self.out / 'train_state.pt'}: the same command with --resume continues", dist)
        return hit_max or out_of_time or signalled

    def _epoch(self, epoch: int) -> bool:
        """One epoch (from the resumed batch on the first); True when the run must stop."""
        args, nb = self.args, self.steps_per_epoch
        order = self.dist.order(len(self.train), args.seed, epoch)
        b0 = self.start_batch if epoch == self.start_epoch else 0
        bar = None
        if self.dist.main and not args.no_progress:
            from tqdm import tqdm
            bar = tqdm(total=nb, initial=b0, desc=f"stage{self.s.stage} ep {epoch + 1}/{args.epochs}", unit="step",
                       dynamic_ncols=True, file=sys.stderr)
        try:
            for b in range(b0, nb):
                r = self._step(epoch, b, order)
                if bar is not None:
                    bar.update(1)
                    if self.global_step % 10 == 0 or b == nb - 1:
                        bar.set_postfix(loss=f"{r.loss:.3f}", acc=f"{self.run_correct / max(1, self.run_n):.3f}",
                                        lr=f"{self._lr():.2e}")
                if self._after_step(epoch, b, bar):
                    return True
        finally:
            if bar is not None:
                bar.close()
        return False

    def fit(self) -> None:
        s = self.s
        _log(f"stage {s.stage}: preset {s.preset}, {s.classes} classes, {sum(p.numel() for p in s.params):,} trainable "
             f"params, {self.steps_per_epoch} steps/epoch x {self.args.epochs} epochs (stop at {self.total_steps}), "
             f"batch {self.args.batch_size} x {self.dist.world} proc, threads {torch.get_num_threads()}, out {self.out}",
             self.dist)
        s.model.train()
        if s.stage == 2:
            s.model.fpen_s1.eval()
        epoch = self.start_epoch
        with _StopOnSignal(self):
            while epoch < self.args.epochs:
                if self._epoch(epoch):
                    break
                epoch += 1

    def finish(self) -> None:
        if self.dist.main:
            from lrdif.sdk.fileio import atomic_write_bytes
            _plot_curves(self.csv.path, self.out, self.s.stage, self.s.preset)
            summary = dict(self.run_meta, global_step=self.global_step, best_val_acc_mean=self.best,
                           last_val_acc=self.accs, elapsed_s=round(time.time() - self.t_start, 1), out=str(self.out))
            atomic_write_bytes(self.out / "summary.json", json.dumps(summary, indent=2, default=str).encode())
            _log(f"done: {self.global_step} steps in {time.time() - self.t_start:.0f}s; best mean val acc "
                 f"{self.best:.4f}; checkpoints in {self.out}")
        self.dist.barrier()


def _run(args) -> int:
    from lrdif.training.splits import prepare_data
    stage = 1 if args.stage == "stage1" else 2
    dist = Dist()
    threads = args.threads or (1 if dist.enabled else None)
    if threads:
        torch.set_num_threads(threads)
    _check_args(args)
    weights = parse_degradations(args.degradations)
    out = Path(args.out) if args.out else Path("runs") / args.stage
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    dist.barrier()
    state = _load_resume_state(args, out, stage)
    setup = _build_model(args, stage, state, out, dist)
    train, val, dinfo = prepare_data(args, dist, setup.classes, setup.cfg.input_size, lambda m: _log(m, dist))
    _log(f"data: {dinfo['data']} -> train {dinfo['n_train']}, val {dinfo['n_val']} ({dinfo['val_source']}); "
         f"faces found {dinfo.get('faces_found')}/{dinfo['n_total']}", dist)
    trainer = _Trainer(args, setup, train, val, dinfo, dist, out, weights, state)
    trainer.fit()
    trainer.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
