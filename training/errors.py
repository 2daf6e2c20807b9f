"""User-facing errors of `lrdif-train` (kept apart so the training units can raise them without
importing the CLI)."""
from __future__ import annotations


class TrainError(RuntimeError):
    """A user-facing training failure (bad input, mismatched checkpoint, non-finite loss...)."""
