"""One metadata schema, embedded in every exported artifact and read back by the SDK.

The SDK configures itself from this record alone (never from a file name). Exporters embed
`ModelMetadata.to_json()` under the key `METADATA_KEY`:
ONNX metadata_props, CoreML user_defined_metadata, a `metadata.json` beside/inside the .tflite,
a `.json` sidecar for .pte.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from lrdif.sdk.labels import LABELS_7, LABELS_8

SCHEMA = "lrdif.model/1"
METADATA_KEY = "lrdif_metadata"


class MetadataError(ValueError):
    """The artifact's embedded metadata is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class CropSpec:
    """How the emotion-model crop is cut from a frame, given 468 FaceMesh landmarks.

    rule "facemesh-eye-aligned-square": rotate so the outer eye corners (landmarks 33, 263) are
    level; centre = centre of the rotated landmark bounding box shifted by `shift_y` * side;
    side = `scale` * max(width, height) of that box; resampled bilinearly to `size` x `size`.
    """
    rule: str = "facemesh-eye-aligned-square"
    size: int = 64
    scale: float = 1.12
    shift_y: float = -0.05


@dataclass(frozen=True)
class ModelMetadata:
    """Everything a runtime needs to feed the model and read its outputs."""
    labels: tuple[str, ...] = LABELS_8
    input_size: int = 64                      # square crop side, pixels
    input_layout: str = "NCHW"                # image tensor layout
    colour_order: str = "RGB"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)   # applied to pixels / 255
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    crop: CropSpec = field(default_factory=CropSpec)
    landmark_scheme: str = "mediapipe-facemesh-468"
    landmark_space: str = "crop-normalised-xy"  # (B, 468, 2), x and y in [0, 1] of the crop
    num_landmarks: int = 468
    diffusion_steps: int = 4
    temperature: float = 1.0                  # calibration: probabilities = softmax(logits / temperature)
    quantisation: str = "none"
    batch: int = 0                            # 0 = dynamic batch, else the fixed batch size
    input_names: tuple[str, ...] = ("image", "landmarks")
    output_names: tuple[str, ...] = ("probabilities", "logits")
    model_name: str = "lrdif-mobile"
    model_version: str = "0.1.0"
    preset: str = "mobile"
    licence: str = "Research use only (weights trained on FER2013/FER+ images)"
    training_data: str = "FERPlus train split, clean + simulated UDC + low-light"
    weights_sha256: str = ""
    target: str = ""                          # onnx | tflite | executorch | coreml
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.schema != SCHEMA:
            raise MetadataError(f"unsupported metadata schema {self.schema!r} (expected {SCHEMA!r})")
        if tuple(self.labels) not in (LABELS_7, LABELS_8):
            raise MetadataError(f"labels must be the lrdif 7- or 8-class order, got {list(self.labels)}")
        if not isinstance(self.input_size, int) or self.input_size < 8:
            raise MetadataError(f"input_size must be an int >= 8, got {self.input_size!r}")
        if self.input_layout not in ("NCHW", "NHWC"):
            raise MetadataError(f"input_layout must be NCHW or NHWC, got {self.input_layout!r}")
        if self.colour_order not in ("RGB", "BGR"):
            raise MetadataError(f"colour_order must be RGB or BGR, got {self.colour_order!r}")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if len(v) != 3 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v):
                raise MetadataError(f"{name} must be three finite numbers, got {v!r}")
        if any(s <= 0 for s in self.std):
            raise MetadataError(f"std must be positive, got {self.std!r}")
        if self.crop.size != self.input_size:
            raise MetadataError(f"crop.size {self.crop.size} != input_size {self.input_size}")
        if not (isinstance(self.diffusion_steps, int) and self.diffusion_steps >= 0):
            raise MetadataError(f"diffusion_steps must be an int >= 0, got {self.diffusion_steps!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not (math.isfinite(self.temperature) and self.temperature > 0):
            raise MetadataError(f"temperature must be a positive finite number, got {self.temperature!r}")
        if self.batch < 0:
            raise MetadataError(f"batch must be >= 0, got {self.batch}")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def replace(self, **changes: Any) -> "ModelMetadata":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelMetadata":
        if not isinstance(d, dict):
            raise MetadataError(f"metadata must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise MetadataError(f"unknown metadata fields: {sorted(unknown)}")
        if "schema" not in d:
            raise MetadataError("metadata has no 'schema' field: not an lrdif model")
        kw = dict(d)
        try:
            if "crop" in kw:
                kw["crop"] = CropSpec(**kw["crop"])
            for k in ("labels", "mean", "std", "input_names", "output_names"):
                if k in kw:
                    kw[k] = tuple(kw[k])
            return cls(**kw)
        except TypeError as e:
            raise MetadataError(f"malformed metadata: {e}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelMetadata":
        try:
            d = json.loads(text)
        except (ValueError, TypeError) as e:
            raise MetadataError(f"metadata is not valid JSON: {e}") from None
        return cls.from_dict(d)
