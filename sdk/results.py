"""Result and option types of the emotion recognizer (MediaPipe Tasks style)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class RunningMode(enum.Enum):
    """IMAGE: independent still images (`predict`). VIDEO: decoded frames with timestamps
    (`predict_for_video`, faces tracked, probabilities smoothed). LIVE_STREAM: camera frames fed
    with `predict_async`, results delivered to `result_callback` on a worker thread."""
    IMAGE = "image"
    VIDEO = "video"
    LIVE_STREAM = "live_stream"


@dataclass(frozen=True)
class EmotionResult:
    """One face in a frame.

    box: (x, y, w, h) in frame pixels; score: face-detector score (for a face tracked from the
    previous frame: the score of the detection that started the track); landmarks: (468, 3)
    FaceMesh x, y (frame pixels), z; presence: FaceMesh face-presence probability;
    probabilities: label -> probability (sums to 1; smoothed per track in video/live-stream modes);
    label / confidence: the argmax and its probability; face_id: track id in video/live-stream
    modes (stable while the face is tracked), None in image mode; quality: "good" (detector box,
    FaceMesh presence and landmark extent agree), "refined" (they agreed after FaceMesh was re-run
    on the landmarks' own region) or "uncertain" (they never agreed: do not trust this emotion;
    only returned with `keep_uncertain_faces=True`).
    """
    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(repr=False)
    probabilities: dict[str, float]
    label: str
    confidence: float
    presence: float = 1.0
    face_id: int | None = None
    quality: str = "good"

    def to_dict(self, landmarks: bool = False) -> dict[str, Any]:
        """JSON-ready dict (landmarks left out unless asked for)."""
        d: dict[str, Any] = {
            "face_id": self.face_id, "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4), "presence": round(float(self.presence), 4),
            "quality": self.quality, "label": self.label, "confidence": round(float(self.confidence), 4),
            "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
        }
        if landmarks:
            d["landmarks"] = np.round(self.landmarks, 2).tolist()
        return d
