"""The one label order shared by the SDK, training, export and benchmarks.

It is FER+'s vote-column order (github.com/microsoft/FERPlus), so a FERPlus majority label is
simply the argmax over the first 8 vote columns. 7-class mode drops `contempt` (FER2013's classes).
"""
from __future__ import annotations

LABELS_8: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)
LABELS_7: tuple[str, ...] = LABELS_8[:7]


def labels_for(num_classes: int) -> tuple[str, ...]:
    """Label names for 7- or 8-class mode."""
    if num_classes == 8:
        return LABELS_8
    if num_classes == 7:
        return LABELS_7
    raise ValueError(f"num_classes must be 7 or 8, got {num_classes!r}")
