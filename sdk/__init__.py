"""lrdif.sdk — on-device facial-expression recognition (no torch: runtimes only)."""
from lrdif.sdk.labels import LABELS_7, LABELS_8, labels_for

__all__ = ["LABELS_7", "LABELS_8", "labels_for"]
__version__ = "0.1.0"
