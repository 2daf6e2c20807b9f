"""ExecuTorch target (runtime: `executorch.runtime.Runtime`, XNNPACK delegate)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from lrdif.sdk.metadata import ModelMetadata

from . import FLOAT_UNDER_INT8, Exported, Target, calibrate_pt2e, require_calib


def delegation_summary(edge: Any) -> dict[str, Any]:
    """Number of XNNPACK delegate partitions and the ops left outside them (run on the CPU portable
    kernels) in a lowered EdgeProgramManager."""
    gm = edge.exported_program().graph_module
    parts = 0
    outside: dict[str, int] = {}
    for n in gm.graph.nodes:
        if n.op != "call_function":
            continue
        t = str(getattr(n.target, "__name__", n.target))
        if "executorch_call_delegate" in t:
            parts += 1
        elif "getitem" not in t:
            name = t.split(":")[0].replace("<EdgeOpOverload: ", "").replace(">", "")
            outside[name] = outside.get(name, 0) + 1
    return {"delegate_partitions": parts, "ops_outside_delegate": outside}


# + the diffusion denoiser: its linears are shared by the unrolled reverse steps, and XNNPACK leaves
# shared dynamically-quantised linears undelegated (choose_qparams / dequantize ops that the
# ExecuTorch runtime has no kernels for: "Missing out variants")
FLOAT_MODULES = FLOAT_UNDER_INT8 + ("Denoiser",)


def _outside_float_modules(node: Any) -> bool:
    """False for nodes traced inside a FLOAT_MODULES module (kept float)."""
    for _, t in node.meta.get("nn_module_stack", {}).values():
        name = t.__qualname__ if isinstance(t, type) else str(t)
        if any(k in name for k in FLOAT_MODULES):
            return False
    return True


def int8_quantizer() -> Any:
    """The PT2E quantizer of `--target executorch --int8`: conv2d static (per-channel int8 weights,
    int8 activations calibrated on the real crops), linear dynamic (per-channel int8 weights,
    activations quantised per inference by XNNPACK), everything else float; FLOAT_MODULES float.
    (Static int8 on every op, `XNNPACKQuantizer().set_global(...)`, lost 2-4 points on this model.)"""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)

    q = XNNPACKQuantizer()
    q.set_operator_type(torch.ops.aten.conv2d.default, get_symmetric_quantization_config(is_per_channel=True))
    q.set_operator_type(torch.ops.aten.linear.default,
                        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))
    q.set_filter_function(_outside_float_modules)
    return q


class ExecuTorchTarget(Target):
    """ExecuTorch program (.pte): `torch.export` -> `to_edge_transform_and_lower(partitioner=
    [XnnpackPartitioner()])` -> `.to_executorch()`, batch 1, inputs (image, landmarks) float32,
    outputs (probabilities, logits) in that order. Metadata: sidecar `<file>.pte.json` holding the
    record and the .pte's sha256 (copy both files together).

    int8 = PT2E for XNNPACK, mixed (`int8_quantizer()`, chosen by measurement, export/README.md):
    conv2d static (per-channel symmetric int8 weights, int8 activations calibrated on the real
    calibration crops), linear dynamic (int8 weights, activations quantised per inference), the
    rest float, LayerNorm, the landmark heatmap and the denoiser float; torchao `prepare_pt2e`/`convert_pt2e`,
    then lowered to XNNPACK; IO stays float32. Static int8 on every op lost 2-4 points.
    """
    name = "executorch"
    suffix = ".pte"
    runtime = "ExecuTorch (executorch.runtime.Runtime, XNNPACK)"
    backend = "executorch"
    batch = 1

    def quantisation(self, int8: bool, fp16: bool = False) -> str:
        return "int8-pt2e-xnnpack-static-conv-dynamic-linear" if int8 else "none"

    def export(self, module: Any, sample_inputs: tuple, out_path: Path, int8: bool, calib: Any,
               metadata: ModelMetadata, **options: Any) -> Exported:
        import torch
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        from lrdif.sdk.artifact_metadata import embed_metadata, sidecar_path

        out_path = Path(out_path)
        x = tuple(t[:1] for t in sample_inputs)
        m = module
        if int8:
            require_calib(calib, self.name)
            from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

            g = prepare_pt2e(torch.export.export(module, x).module(), int8_quantizer())
            calibrate_pt2e(g, calib)
            m = convert_pt2e(g)
        ep = torch.export.export(m, x)
        edge = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()])
        info = delegation_summary(edge)
        if int8:
            info["calibration_samples"] = len(calib)
        prog = edge.to_executorch()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(f".lrdif-tmp-{uuid.uuid4().hex[:8]}-{out_path.name}")
        try:
            tmp.write_bytes(prog.buffer)
            tmp_side = embed_metadata(tmp, metadata, format="executorch")
            # the sidecar binds to the program by content hash, so both may be renamed
            os.replace(tmp, out_path)
            os.replace(tmp_side, sidecar_path(out_path))
        finally:
            tmp.unlink(missing_ok=True)
            sidecar_path(tmp).unlink(missing_ok=True)
        return Exported(out_path, info)

    def _method(self, artifact: Path):
        from executorch.runtime import Runtime

        prog = Runtime.get().load_program(str(artifact))
        return prog, prog.load_method("forward")

    def check_artifact(self, artifact: Path, metadata: ModelMetadata) -> dict[str, Any]:
        import torch

        prog, meth = self._method(artifact)
        assert "forward" in prog.method_names, prog.method_names
        s = metadata.input_size
        out = meth.execute([torch.zeros(1, 3, s, s), torch.full((1, metadata.num_landmarks, 2), 0.5)])
        assert len(out) == 2 and tuple(out[0].shape) == (1, metadata.num_classes), [tuple(o.shape) for o in out]
        return {"methods": sorted(prog.method_names),
                "checks": ["program loads, method 'forward' runs", "output shapes (1, K) x 2",
                           "sidecar sha256 matches the .pte"]}
