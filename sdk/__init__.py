"""lrdif.sdk — on-device facial-expression recognition (no torch: runtimes only).

    from lrdif.sdk import EmotionRecognizer
    with EmotionRecognizer() as rec:
        results = rec.predict(rgb_uint8_frame)
"""
from lrdif.sdk.backends import ModelLoadError, ModelNotFoundError
from lrdif.sdk.labels import LABELS_7, LABELS_8, labels_for
from lrdif.sdk.metadata import MetadataError, ModelMetadata
from lrdif.sdk.recognizer import EmotionRecognizer, EmotionRecognizerOptions
from lrdif.sdk.results import EmotionResult, RunningMode

__all__ = [
    "LABELS_7", "LABELS_8", "EmotionRecognizer", "EmotionRecognizerOptions", "EmotionResult",
    "MetadataError", "ModelLoadError", "ModelMetadata", "ModelNotFoundError", "RunningMode", "labels_for",
]
__version__ = "0.1.0"
