"""Adapter to the training package: checkpoint -> inference module (torch), with a stand-in fallback.

Contract (ARCHITECTURE.md): checkpoint = dict {"format": "lrdif.checkpoint/1", "preset", "config",
"stage", "state_dict", "labels", "meta"}; `lrdif.training.model`: `get_config`, `LRDif`,
`LRDifInference(model, steps)` whose forward(image, landmarks) -> (probabilities, logits).
"""
from __future__ import annotations

from pathlib import Path


def have_model() -> bool:
    try:
        from lrdif.training.model import LRDif, LRDifInference, get_config  # noqa: F401
        return True
    except Exception:
        return False


def build_model(preset: str = "tiny", seed: int = 0, **overrides):
    import torch
    from lrdif.training.model import LRDif, get_config
    torch.manual_seed(seed)
    cfg = get_config(preset, **overrides)
    return LRDif(cfg).eval(), cfg


def _config_from(ck: dict):
    from lrdif.training.model import get_config
    try:
        from lrdif.training.model import LRDifConfig
        return LRDifConfig.from_dict(ck["config"])
    except Exception:
        return get_config(ck.get("preset", "mobile"), **ck.get("config", {}))


def load_checkpoint(path: str | Path):
    """-> (model (eval), config, checkpoint dict). Uses lrdif.training.checkpoint when present."""
    import torch
    try:
        from lrdif.training.checkpoint import load_checkpoint as _load  # type: ignore
        out = _load(path)
        if isinstance(out, tuple) and len(out) >= 2 and isinstance(out[0], torch.nn.Module):
            model = out[0]
            cfg = getattr(model, "cfg", None) or getattr(model, "config", None)
            ck = out[-1] if isinstance(out[-1], dict) else {}
            return model.eval(), cfg, ck
        if isinstance(out, dict):
            ck = out
        else:
            raise TypeError("unexpected return type")
    except (ImportError, TypeError, AttributeError):
        ck = torch.load(str(path), map_location="cpu", weights_only=False)
    from lrdif.training.model import LRDif
    cfg = _config_from(ck)
    model = LRDif(cfg)
    model.load_state_dict(ck["state_dict"])
    return model.eval(), cfg, ck


def inference_module(model, steps: int | None = None):
    from lrdif.training.model import LRDifInference
    if steps is None:
        return LRDifInference(model).eval() if _steps_optional() else LRDifInference(model, model_steps(model)).eval()
    return LRDifInference(model, steps).eval()


def _steps_optional() -> bool:
    import inspect
    from lrdif.training.model import LRDifInference
    try:
        p = inspect.signature(LRDifInference.__init__).parameters.get("steps")
        return p is not None and p.default is not inspect.Parameter.empty
    except (TypeError, ValueError):
        return False


def model_steps(model) -> int:
    cfg = getattr(model, "cfg", None) or getattr(model, "config", None)
    return int(getattr(cfg, "diffusion_steps", 4))


def load_inference(checkpoint: str | None, steps: int | None = None):
    """(inference module, info dict). checkpoint "standin:<size>" or None -> the stand-in module."""
    if not checkpoint or str(checkpoint).startswith("standin"):
        from benchmarks.standin import make_standin
        size = int(str(checkpoint).split(":")[1]) if checkpoint and ":" in str(checkpoint) else 32
        return make_standin(size, steps=steps if steps is not None else 4), {"input_size": size, "standin": True}
    if str(checkpoint).startswith("preset:"):
        model, cfg = build_model(str(checkpoint).split(":", 1)[1])
    else:
        model, cfg, _ = load_checkpoint(checkpoint)
    mod = inference_module(model, steps)
    return mod, {"input_size": int(getattr(cfg, "input_size", 64)), "standin": False,
                 "num_classes": int(getattr(cfg, "num_classes", 8))}
