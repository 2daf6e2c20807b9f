"""CoreML target (runtime: Core ML, macOS / iOS only)."""
from __future__ import annotations

import copy
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from lrdif.sdk.backends.base import softmax
from lrdif.sdk.metadata import METADATA_KEY, ModelMetadata

from . import Exported, Target, VerifyData, accuracy, atomic_path

WEIGHT_THRESHOLD = 2048  # coremltools' OpLinearQuantizerConfig default: smaller consts stay float


def simulate_int8_weights(module: Any, threshold: int = WEIGHT_THRESHOLD) -> tuple[Any, int]:
    """A copy of `module` whose weights (>= 2-D, more than `threshold` elements, as
    linear_quantize_weights picks them) are rounded to symmetric per-output-channel int8 and back.
    Activations stay fp32, as on the device (W8A16/W8A32). Returns (copy, tensors quantised)."""
    import torch

    m = copy.deepcopy(module).eval()
    n = 0
    with torch.no_grad():
        for p in list(m.parameters()):
            if p.ndim >= 2 and p.numel() > threshold:
                w = p.reshape(p.shape[0], -1)
                scale = w.abs().amax(1, keepdim=True).clamp_min(1e-12) / 127.0
                p.copy_((torch.round(w / scale).clamp(-127, 127) * scale).reshape(p.shape))
                n += 1
    return m, n


@contextmanager
def _guard_fuse_linear_bias() -> Iterator[None]:
    """coremltools 9.0's `fuse_linear_bias` pass crashes (IndexError at `bias.shape[-1]`) when a
    linear is followed by adding a 0-d constant, as the diffusion update does; it runs in
    `ct.convert` and again inside `linear_quantize_weights`. Leave such pairs unfused instead."""
    from coremltools.converters.mil.mil.passes.defs import optimize_linear as ol

    cls = ol.fuse_linear_bias
    orig = cls._try_to_transform

    def safe(linear_op, add_or_sub_op, block):
        other = add_or_sub_op.y if add_or_sub_op.x is linear_op.outputs[0] else add_or_sub_op.x
        if other.val is not None and np.ndim(other.val) == 0:
            return False
        return orig(linear_op, add_or_sub_op, block)

    cls._try_to_transform = staticmethod(safe)
    try:
        yield
    finally:
        cls._try_to_transform = staticmethod(orig)


def mil_ops(spec: Any) -> dict[str, int]:
    ops: dict[str, int] = {}
    for f in spec.mlProgram.functions.values():
        for b in f.block_specializations.values():
            for op in b.operations:
                ops[op.type] = ops.get(op.type, 0) + 1
    return ops


class CoreMLTarget(Target):
    """Core ML `.mlpackage`, ML program (MIL), minimum deployment target iOS 17 / macOS 14, converted
    with `ct.convert` from `torch.export`; batch 1; inputs `image` (1,3,S,S), `landmarks` (1,468,2)
    float32 tensors, outputs `probabilities`, `logits` (plain tensors, no classifier config: the
    label order is in the metadata like every other target). Compute precision fp32 unless
    `--fp16`. Metadata in `user_defined_metadata["lrdif_metadata"]` (plus short description,
    author, licence, version).

    int8 = int8 WEIGHTS: `coremltools.optimize.coreml.linear_quantize_weights`, symmetric,
    per-channel, for consts over 2048 elements; activations stay float (W8A16 with --fp16, else
    W8A32). W8A8 (activation quantisation) needs `predict`, i.e. macOS, and is not produced here.

    On Linux Core ML cannot run: `verify` checks the spec (ML program, MIL ops), names, shapes,
    metadata, size, and the accuracy of the int8-weight model SIMULATED in torch; numerics need
    macOS and run there (`sys.platform == "darwin"`).
    """
    name = "coreml"
    suffix = ".mlpackage"
    runtime = "Core ML (macOS only)"
    backend = "coreml"
    batch = 1
    supports_fp16 = True

    def needs_calibration(self, int8: bool) -> bool:
        return False  # int8 weights only

    def quantisation(self, int8: bool, fp16: bool = False) -> str:
        q = "int8-weights" if int8 else "none"
        return f"{q}-fp16" if fp16 else q

    def int8_from_float(self) -> bool:
        return True

    def export(self, module: Any, sample_inputs: tuple, out_path: Path, int8: bool, calib: Any,
               metadata: ModelMetadata, fp16: bool = False, **options: Any) -> Exported:
        import coremltools as ct
        import torch

        x = tuple(t[:1] for t in sample_inputs)
        ep = torch.export.export(module, x).run_decompositions({})
        with _guard_fuse_linear_bias():
            ml = ct.convert(
                ep,
                inputs=[ct.TensorType(name="image", shape=tuple(x[0].shape), dtype=np.float32),
                        ct.TensorType(name="landmarks", shape=tuple(x[1].shape), dtype=np.float32)],
                outputs=[ct.TensorType(name="probabilities"), ct.TensorType(name="logits")],
                convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17,
                compute_precision=ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32)
        if int8:
            ml = self._quantize_weights(ml)
        info = {"converter": f"coremltools {ct.__version__}", "minimum_deployment_target": "iOS17",
                "compute_precision": "fp16" if fp16 else "fp32"}
        return self._save(ml, out_path, metadata, info)

    def quantize(self, float_artifact: Path, out_path: Path, calib: Any, metadata: ModelMetadata,
                 **options: Any) -> Exported:
        """int8 weights of a float `.mlpackage` (its compute precision kept)."""
        import coremltools as ct

        ml = ct.models.MLModel(str(float_artifact), skip_model_load=True)
        return self._save(self._quantize_weights(ml), out_path, metadata, {"converter": f"coremltools {ct.__version__}"})

    @staticmethod
    def _quantize_weights(ml: Any) -> Any:
        import coremltools.optimize.coreml as cto

        cfg = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=WEIGHT_THRESHOLD))
        with _guard_fuse_linear_bias():
            return cto.linear_quantize_weights(ml, cfg)

    @staticmethod
    def _save(ml: Any, out_path: Path, metadata: ModelMetadata, info: dict[str, Any]) -> Exported:
        ml.short_description = (f"lrdif facial expression ({metadata.num_classes} classes), "
                                f"{metadata.model_name} {metadata.model_version}")
        ml.author = "lrdif"
        ml.license = metadata.licence
        ml.version = metadata.model_version
        ml.user_defined_metadata[METADATA_KEY] = metadata.to_json()
        with atomic_path(Path(out_path)) as tmp:
            ml.save(str(tmp))
        return Exported(Path(out_path), info)

    def runs_here(self) -> bool:
        return sys.platform == "darwin"

    def check_artifact(self, artifact: Path, metadata: ModelMetadata) -> dict[str, Any]:
        import coremltools as ct

        spec = ct.utils.load_spec(str(artifact))
        assert spec.WhichOneof("Type") == "mlProgram", spec.WhichOneof("Type")
        ops = mil_ops(spec)
        ins = {i.name: list(i.type.multiArrayType.shape) for i in spec.description.input}
        outs = [o.name for o in spec.description.output]
        s = metadata.input_size
        assert ins == {"image": [1, 3, s, s], "landmarks": [1, metadata.num_landmarks, 2]}, ins
        assert outs == ["probabilities", "logits"], outs
        ud = dict(spec.description.metadata.userDefined)
        assert ud.get(METADATA_KEY) == metadata.to_json(), "user_defined_metadata lrdif_metadata differs"
        q = ops.get("constexpr_affine_dequantize", 0) + ops.get("constexpr_blockwise_shift_scale", 0)
        assert (q > 0) == metadata.quantisation.startswith("int8"), f"{q} int8 weight ops vs {metadata.quantisation}"
        return {"spec_type": "mlProgram", "specification_version": int(spec.specificationVersion),
                "mil_ops": dict(sorted(ops.items())), "int8_weight_tensors": q,
                "inputs": ins, "outputs": outs,
                "checks": ["spec is an ML program", "MIL ops listed", "input/output names and shapes",
                           "user_defined_metadata (coremltools and the SDK's protobuf reader agree)"]}

    def verify(self, artifact: Path, data: VerifyData) -> dict[str, Any]:
        res = super().verify(artifact, data)
        if sys.platform == "darwin":
            return res
        import torch

        int8 = data.metadata.quantisation.startswith("int8")
        res["numerics"] = ("not run: Core ML prediction exists only on macOS; run lrdif-export there "
                           "(sys.platform == 'darwin') for the real numbers")
        if int8:
            sim, nq = simulate_int8_weights(data.module)
            res["simulated"] = {"what": f"torch, {nq} weight tensors rounded to per-channel symmetric int8, fp32 activations",
                                "sets": {}}
            with torch.no_grad():
                for name, fs in data.sets.items():
                    logits = torch.cat([sim(torch.from_numpy(fs.image[i:i + 64]), torch.from_numpy(fs.landmarks[i:i + 64]))[1]
                                        for i in range(0, len(fs), 64)]).numpy()
                    probs = softmax(logits, data.metadata.temperature)   # as data.reference and the SDK
                    ref = data.reference[name]
                    res["simulated"]["sets"][name] = {
                        "n": len(fs), "accuracy": accuracy(probs, fs.labels),
                        "torch_fp32_accuracy": accuracy(ref, fs.labels),
                        "max_abs_prob_diff": float(np.abs(probs - ref).max()),
                        "top1_agreement": float((probs.argmax(1) == ref.argmax(1)).mean() * 100.0)}
            res["checks"].append("int8-weight accuracy simulated in torch")
        return res
