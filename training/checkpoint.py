"""Save / load LRDif checkpoints (ARCHITECTURE.md: format "lrdif.checkpoint/1", atomic writes)."""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from lrdif.sdk.labels import labels_for
from lrdif.training.model import LRDif, LRDifConfig
from lrdif.training.model.lrdif import LEGACY_BUFFERS
from lrdif.sdk.fileio import atomic_write

FORMAT = "lrdif.checkpoint/1"


class CheckpointError(ValueError):
    """The file is not a usable lrdif checkpoint."""


def _to_builtin(o: Any) -> Any:
    if hasattr(o, "tolist"):        # numpy / torch scalars and arrays
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"checkpoint meta value of type {type(o).__name__} is not JSON-serialisable")


def save_checkpoint(path: str | os.PathLike, model: LRDif, cfg: LRDifConfig, stage: int, preset: str,
                    meta: dict[str, Any] | None = None) -> Path:
    """Write {"format", "preset", "config", "stage", "state_dict", "labels", "meta"} atomically
    (tmp file in the same directory + os.replace). `meta` must be JSON-like (numbers, strings, lists,
    dicts; numpy scalars are converted) so the checkpoint loads with torch.load(weights_only=True)."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.loads(json.dumps(meta or {}, default=_to_builtin))
    ckpt = {
        "format": FORMAT,
        "preset": str(preset),
        "config": dataclasses.asdict(cfg),
        "stage": int(stage),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "labels": list(labels_for(cfg.num_classes)),
        "meta": meta,
    }
    return atomic_write(path, lambda f: torch.save(ckpt, f))


def write_untrained(path: str | os.PathLike, preset: str = "tiny", seed: int = 0, **overrides: Any) -> Path:
    """A randomly initialised (torch seed `seed`) `preset` saved as a stage-2 checkpoint: what the
    export tests and the benchmarks' smoke run export when no trained model is wanted; `overrides`
    replace config fields (`fork_size=64`)."""
    from lrdif.training.model import get_config

    torch.manual_seed(seed)
    cfg = get_config(preset, **overrides)
    return save_checkpoint(path, LRDif(cfg), cfg, stage=2, preset=preset, meta={"note": "untrained"})


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dict, validated for format (no model built)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        # torch's unpickler text says nothing useful to a user holding the wrong file
        raise CheckpointError(f"not an lrdif checkpoint: {path} (corrupt, truncated or not a torch file: "
                              f"{type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise CheckpointError(f"not an lrdif checkpoint: {path} (no 'format' key)")
    if ckpt["format"] != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {ckpt['format']!r} (expected {FORMAT!r})")
    missing = [k for k in ("preset", "config", "stage", "state_dict", "labels", "meta") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks keys {missing}")
    return ckpt


def load_checkpoint(path: str | os.PathLike, expected_stage: int | None = None
                    ) -> tuple[LRDif, LRDifConfig, dict[str, Any]]:
    """(model in eval mode, config, checkpoint dict). Raises FileNotFoundError / CheckpointError."""
    ckpt = read_checkpoint(path)
    if expected_stage is not None and ckpt["stage"] != expected_stage:
        raise CheckpointError(f"{path}: checkpoint is stage {ckpt['stage']}, expected stage {expected_stage}")
    try:
        cfg = LRDifConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad config in checkpoint: {e}") from None
    sd = {k: v for k, v in ckpt["state_dict"].items() if k not in LEGACY_BUFFERS}
    if "label_embeddings" not in sd:
        raise CheckpointError(f"{path}: state_dict lacks 'label_embeddings'")
    model = LRDif(cfg, label_embeddings=sd["label_embeddings"])   # no asset file needed to load
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad_shape = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or bad_shape:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''} ({len(missing)})")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''} ({len(unexpected)})")
        if bad_shape:
            parts.append("shape mismatch " + ", ".join(
                f"{k}: ckpt {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}" for k in bad_shape[:10]))
        raise CheckpointError(f"{path}: config/state_dict mismatch: " + "; ".join(parts))
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, cfg, ckpt


TRAIN_STATE_FORMAT = "lrdif.train_state/1"


def save_train_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write a resumable training state ({"format": TRAIN_STATE_FORMAT, "stage", "preset", "config",
    "model", "optimizer", "scheduler", "ema", ...}) atomically."""
    return atomic_write(path, lambda f: torch.save({"format": TRAIN_STATE_FORMAT, **state}, f))


def load_train_state(path: str | os.PathLike, stage: int | None = None) -> dict[str, Any]:
    """A training state written by `save_train_state`; CheckpointError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training state at {path}")
    try:
        st = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None
    if not isinstance(st, dict) or st.get("format") != TRAIN_STATE_FORMAT:
        raise CheckpointError(f"{path}: not an lrdif training state")
    if stage is not None and st.get("stage") != stage:
        raise CheckpointError(f"{path} is a stage-{st.get('stage')} state, not stage {stage}")
    return st
