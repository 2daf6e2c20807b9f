"""Export targets: one small stateless class per format, named in `REGISTRY` (name -> class;
`get_target(name, **options)` makes one).

Each target has `name`, `suffix`, `runtime`, `backend` (the `lrdif.sdk.backends` runtime that runs
it), `batch` (0 = dynamic), a docstring saying what "int8" means for it, and

- `export(module, sample_inputs, out_path, int8, calib, metadata, **options) -> Exported`: writes
  the artifact atomically (temporary name in the same folder, then `os.replace` / rename), metadata
  embedded, and returns its path with the facts of that export (e.g. delegate partitions);
- `int8_from_float()` / `quantize(float_artifact, out_path, calib, metadata) -> Exported`: for the
  targets whose int8 is a post-pass on the float artifact (ONNX, TFLite dynamic-range, CoreML), the
  int8 artifact made from a float one, so `lrdif-export --int8 --keep-float` converts once;
- `verify(artifact, data) -> dict`: reads the metadata back with the SDK's `read_metadata`, checks
  the artifact's own structure, runs it through the SDK's own backend
  (`lrdif.sdk.backends.load_backend`, the product path: uint8 crops in, the SDK's preprocessing)
  on real crops and compares with torch.

Targets hold configuration only (e.g. the TFLite int8 flavour), never results. Heavy libraries are
imported inside the methods, so importing the registry is cheap.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from lrdif.sdk.metadata import ModelMetadata

Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (uint8 crops, landmarks) batch -> probabilities


@dataclass(frozen=True)
class Exported:
    """What one export made: the artifact and the facts of that conversion."""
    path: Path
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifyData:
    """What `Target.verify` compares against: real crop sets, torch fp32 probabilities on them, the
    torch module itself (CoreML simulation on Linux) and the metadata the artifact must carry."""
    sets: dict[str, Any]                       # name -> export.data.FaceSet (uint8 crops + model input)
    reference: dict[str, np.ndarray]           # name -> torch fp32 probabilities
    module: Any
    metadata: ModelMetadata                    # expected (target/quantisation/batch filled in)
    threads: int = 1
    latency_runs: int = 30
    info: dict[str, Any] = field(default_factory=dict)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(1) == labels).mean() * 100.0)


def parity(probs: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    return {"max_abs_prob_diff": float(np.abs(probs - ref).max()),
            "top1_agreement": float((probs.argmax(1) == ref.argmax(1)).mean() * 100.0)}


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success move it onto `final` (os.replace for files;
    for directories rename, the old one set aside first), on failure remove it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".lrdif-tmp-{uuid.uuid4().hex[:8]}-{final.name}")  # keeps the suffix
    try:
        yield tmp
        if tmp.is_dir():
            old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            if final.exists():
                os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


@contextmanager
def work_dir(near: Path) -> Iterator[Path]:
    """A scratch folder for intermediates next to the output (removed afterwards)."""
    d = Path(near).parent / f".lrdif-work-{uuid.uuid4().hex[:8]}"
    d.mkdir(parents=True)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def calibrate_pt2e(prepared: Any, calib: Any) -> None:
    """Run a PT2E-prepared module over the calibration crops, one sample at a time (batch 1 graph)."""
    import torch

    with torch.no_grad():
        for i in range(len(calib)):
            prepared(torch.from_numpy(calib.image[i:i + 1]), torch.from_numpy(calib.landmarks[i:i + 1]))


# Modules whose ops stay float in every calibrated int8 export (matched by class name in the
# exporter's module path): LayerNorm2d computes mean/variance with 1x1 convs over all channels, and
# the landmark heatmap turns coordinates into Gaussians; both need the float range.
FLOAT_UNDER_INT8 = ("LayerNorm", "LandmarkHeatmap")


def require_calib(calib: Any, target: str) -> None:
    if calib is None or len(calib) == 0:
        raise ValueError(f"{target} int8 needs calibration data (none given)")


class Target:
    """Base class; subclasses set the class attributes and implement `export`."""
    name = ""
    suffix = ""
    runtime = ""
    backend = ""            # lrdif.sdk.backends runtime name
    batch = 1
    supports_fp16 = False

    # --- naming / metadata ------------------------------------------------------------------
    def quantisation(self, int8: bool, fp16: bool = False) -> str:
        return "none"

    def metadata_for(self, base: ModelMetadata, int8: bool, fp16: bool = False) -> ModelMetadata:
        return base.replace(target=self.name, quantisation=self.quantisation(int8, fp16), batch=self.batch)

    def variant(self, int8: bool, fp16: bool = False) -> str:
        """fp32 | fp16 | int8 | int8-fp16 (| int8-dynamic for TFLite's dynamic-range flavour)."""
        return "-".join(v for v in ("int8" if int8 else "", "fp16" if fp16 else "") if v) or "fp32"

    def filename(self, model_name: str, int8: bool, fp16: bool = False) -> str:
        return f"{model_name}-{self.variant(int8, fp16)}{self.suffix}"

    def needs_calibration(self, int8: bool) -> bool:
        """Whether this export reads the real calibration crops (static activation ranges)."""
        return int8

    # --- to implement -----------------------------------------------------------------------
    def export(self, module: Any, sample_inputs: tuple, out_path: Path, int8: bool, calib: Any,
               metadata: ModelMetadata, **options: Any) -> Exported:
        raise NotImplementedError

    def int8_from_float(self) -> bool:
        """Whether this target's int8 artifact is a post-pass on its float artifact (`quantize`), so
        that one conversion serves both variants (`lrdif-export --int8 --keep-float`)."""
        return False

    def quantize(self, float_artifact: Path, out_path: Path, calib: Any, metadata: ModelMetadata,
                 **options: Any) -> Exported:
        """The int8 artifact made from this target's float artifact (only where `int8_from_float`)."""
        raise NotImplementedError(f"{self.name}: int8 is not made from the float artifact")

    def _export_int8_via_float(self, convert: Callable[[Path], dict[str, Any]], out_path: Path, calib: Any,
                               metadata: ModelMetadata, **options: Any) -> Exported:
        """`export(int8=True)` of an `int8_from_float` target: `convert(path)` writes the float
        artifact into a scratch folder (returning its facts), `quantize` makes the int8 one from it."""
        with work_dir(out_path) as wd:
            fp = wd / f"fp32{self.suffix}"
            info = convert(fp)
            made = self.quantize(fp, out_path, calib, metadata, **options)
        return Exported(made.path, {**info, **made.info})

    def runs_here(self) -> bool:
        """Whether the artifact's runtime exists on this platform."""
        return True

    def runner(self, artifact: Path, threads: int = 1) -> Runner | None:
        """The artifact run through the SDK's own backend (uint8 crops + landmarks -> probabilities),
        or None where that runtime does not exist on this platform (then `verify` says so)."""
        if not self.runs_here():
            return None
        from lrdif.sdk.backends import load_backend

        backend = load_backend(artifact, backend=self.backend, num_threads=threads)
        return lambda crops, landmarks: backend.run(crops, landmarks)[0]

    def check_artifact(self, artifact: Path, metadata: ModelMetadata) -> dict[str, Any]:
        """Format-specific structure checks; returns facts, raises AssertionError on a failure."""
        return {}

    def artifact_size(self, artifact: Path) -> int:
        p = Path(artifact)
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size

    # --- verification -----------------------------------------------------------------------
    def run_set(self, run: Runner, crops: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Probabilities of uint8 crops (N, S, S, 3) in batches of 64 (the backend chunks fixed-batch
        artifacts itself)."""
        outs = [run(crops[i:i + 64], landmarks[i:i + 64]) for i in range(0, len(crops), 64)]
        return np.concatenate(outs).astype(np.float32)

    def latency_ms(self, run: Runner, data: VerifyData) -> float:
        fs = next(iter(data.sets.values()))
        x, lm = fs.crops[:1], fs.landmarks[:1]
        for _ in range(5):
            run(x, lm)
        ts = []
        for _ in range(data.latency_runs):
            t = time.perf_counter()
            run(x, lm)
            ts.append(time.perf_counter() - t)
        return float(np.median(ts) * 1000.0)

    def verify(self, artifact: Path, data: VerifyData) -> dict[str, Any]:
        from lrdif.sdk.artifact_metadata import read_metadata

        artifact = Path(artifact)
        res: dict[str, Any] = {"artifact": str(artifact), "size_bytes": self.artifact_size(artifact),
                               "runtime": self.runtime, "checks": []}
        md = read_metadata(artifact)
        if md != data.metadata:
            diff = {k: (v, data.metadata.to_dict()[k]) for k, v in md.to_dict().items()
                    if data.metadata.to_dict()[k] != v}
            raise AssertionError(f"metadata read back differs from what was embedded: {diff}")
        res["checks"].append("metadata round-trip (lrdif.sdk.artifact_metadata.read_metadata)")
        extra = self.check_artifact(artifact, md)
        res["checks"] += extra.pop("checks", [])
        res.update(extra)
        run = self.runner(artifact, threads=data.threads)
        if run is None:
            return res
        res["checks"].append(f"numerics in {self.runtime} through lrdif.sdk.backends.load_backend "
                             f"(backend {self.backend!r}, uint8 crops, the SDK's preprocessing)")
        res["sets"] = {}
        for name, fs in data.sets.items():
            probs = self.run_set(run, fs.crops, fs.landmarks)
            ref = data.reference[name]
            res["sets"][name] = {"n": len(fs), "accuracy": accuracy(probs, fs.labels),
                                 "torch_fp32_accuracy": accuracy(ref, fs.labels), **parity(probs, ref)}
        res["latency_ms_batch1"] = round(self.latency_ms(run, data), 3)
        res["threads"] = data.threads
        return res


def _registry() -> dict[str, type[Target]]:
    from .coreml import CoreMLTarget
    from .executorch import ExecuTorchTarget
    from .onnx import OnnxTarget
    from .tflite import TFLiteTarget

    return {t.name: t for t in (OnnxTarget, CoreMLTarget, TFLiteTarget, ExecuTorchTarget)}


REGISTRY: dict[str, type[Target]] = _registry()
TARGETS = tuple(REGISTRY)


def get_target(name: str, **options: Any) -> Target:
    """A target by name; `options` configure it (TFLite: `int8_mode`)."""
    return REGISTRY[name](**options)
