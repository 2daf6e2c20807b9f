"""The shipped default LRDif checkpoint (`lrdif-mobile.pt`) and its model card (`MODEL_CARD.md`).

The SDK ships the same model exported to ONNX (`lrdif/sdk/models/`); this torch checkpoint is the
default of `lrdif-eval` and `lrdif-export`.
"""
from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT_NAME = "lrdif-mobile.pt"


def default_checkpoint_path() -> Path:
    """Path of the shipped checkpoint (it may be absent in a source tree that has not trained one)."""
    return WEIGHTS_DIR / DEFAULT_CHECKPOINT_NAME
