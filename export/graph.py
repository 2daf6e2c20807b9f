"""The stage-2 inference graph that every target exports, and the metadata that goes with it.

checkpoint -> `lrdif.training.checkpoint.load_checkpoint` -> `LRDifInference(model, steps=N)`:
(image (B,3,S,S) float32 normalised, landmarks (B,468,2) float32 crop-normalised [0,1])
-> (probabilities (B,K), logits (B,K)); FPEN_S1 and the label text embeddings are not in it, the
reverse diffusion chain is unrolled for N steps from a zero start.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrdif.sdk.assets import sha256_file
from lrdif.sdk.labels import labels_for
from lrdif.sdk.metadata import ModelMetadata


class ExportError(RuntimeError):
    """A failure with a one-line message for the user (exit status 1)."""


class UsageError(ExportError):
    """Bad flags / missing inputs detected before any work (exit status 2)."""


def default_checkpoint() -> Path:
    """The shipped model (`lrdif.training.weights`)."""
    try:
        from lrdif.training.weights import default_checkpoint_path
    except ImportError:
        raise ExportError("lrdif.training is not installed (pip install 'lrdif[export]')") from None
    return default_checkpoint_path()


@dataclass
class InferenceGraph:
    module: Any              # LRDifInference, eval mode
    cfg: Any                 # LRDifConfig
    checkpoint: Path
    preset: str
    steps: int
    labels: tuple[str, ...]
    metadata: ModelMetadata  # target / quantisation / batch filled in per export

    def sample_inputs(self, batch: int = 1, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(seed)
        s = int(self.cfg.input_size)
        return (torch.randn(batch, 3, s, s, generator=g),
                torch.rand(batch, int(self.cfg.num_landmarks), 2, generator=g))


def build_metadata(cfg: Any, preset: str, steps: int, labels: tuple[str, ...], weights_sha256: str = "",
                   version: str = "0.0.0", temperature: float = 1.0) -> ModelMetadata:
    """The artifact metadata: `lrdif.training.inference.model_metadata` (the contract training
    normalises with) plus the export's steps, version and weights hash."""
    from lrdif.training.inference import model_metadata
    return model_metadata(cfg, preset, steps=steps, labels=labels, version=version, weights_sha256=weights_sha256,
                          temperature=temperature)


def from_module(module: Any, cfg: Any, preset: str, checkpoint: str | Path = "", labels=None,
                version: str | None = None, temperature: float = 1.0) -> InferenceGraph:
    """Wrap an already built inference module (e.g. in tests) as an `InferenceGraph`. `version`:
    the model version every artifact carries (default: `lrdif.training.inference.model_version`
    of the checkpoint file)."""
    from lrdif.training.inference import model_version

    module.eval()
    steps = int(getattr(module, "steps", 0))
    labels = tuple(labels) if labels else labels_for(int(cfg.num_classes))
    sha = sha256_file(checkpoint) if checkpoint and Path(checkpoint).is_file() else ""
    version = version or model_version(None, checkpoint if checkpoint else None)
    return InferenceGraph(module=module, cfg=cfg, checkpoint=Path(checkpoint) if checkpoint else Path(),
                          preset=preset, steps=steps, labels=labels,
                          metadata=build_metadata(cfg, preset, steps, labels, sha, version, temperature))


def load_inference(checkpoint: str | Path, steps: int | None = None, fork: bool = True) -> InferenceGraph:
    """Load a stage-2 checkpoint and build `LRDifInference(model, steps)` (None = the config's T).
    `fork=False` drops a FaceMesh emotion fork (`LRDifConfig.fork_size`): the graph is the LRDif part
    alone, with the temperature it was calibrated with (`fork_base_temperature`) and the model version
    suffixed `+nofork`."""
    path = Path(checkpoint)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    from lrdif.training.checkpoint import load_checkpoint
    from lrdif.training.inference import calibration_temperature, model_version
    from lrdif.training.model import LRDifInference

    try:
        model, cfg, ckpt = load_checkpoint(path)
    except Exception as e:
        raise ExportError(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from None
    stage = ckpt.get("stage") if isinstance(ckpt, dict) else None
    if stage is not None and int(stage) != 2:
        raise ExportError(f"{path} is a stage-{stage} checkpoint; export needs the stage-2 model "
                          f"(PNET_S2 + denoiser trained)")
    if steps is not None and steps < 1 and getattr(cfg, "diffusion", True):
        raise UsageError(f"--steps must be >= 1, got {steps}")
    temperature, version = calibration_temperature(ckpt), model_version(ckpt, path)
    if not fork:
        if not cfg.fork_size:
            raise UsageError(f"--no-fork: {path} has no FaceMesh emotion fork")
        temperature, version = cfg.fork_base_temperature, f"{version}+nofork"
        cfg = model.cfg = dataclasses.replace(cfg, fork_size=0)
        model.fork = None
    module = LRDifInference(model, steps=steps).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    preset = str(ckpt.get("preset") or "custom") if isinstance(ckpt, dict) else "custom"
    labels = tuple(ckpt.get("labels") or ()) if isinstance(ckpt, dict) else ()
    return from_module(module, cfg, preset, path, labels or None, version=version, temperature=temperature)
