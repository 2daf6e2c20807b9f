"""ONNX target (runtime: onnxruntime)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrdif.sdk.metadata import ModelMetadata

from . import FLOAT_UNDER_INT8, Exported, Target, atomic_path, require_calib, work_dir

DEFAULT_OPSET = 18
CALIB_BATCH = 20     # most crops per calibration batch


def calib_batch(n: int, most: int = CALIB_BATCH) -> int:
    """The largest batch size <= `most` that divides `n`: onnxruntime's histogram calibrators
    (percentile, entropy) need equal-sized batches, and every crop should be used."""
    return next(b for b in range(min(most, max(n, 1)), 0, -1) if n % b == 0)


def preprocess_for_int8(fp32: Path, pre: Path) -> None:
    """`quant_pre_process` as the int8 export runs it (the symbolic shape pass crashes on the dynamo
    graph, so it is skipped), keeping the nodes' `namespace` metadata."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    # the pass drops node metadata; put the exporter's `namespace` back (matched by node name) so
    # that `float_nodes` can find the LayerNorm / heatmap nodes
    ns = {n.name: node_namespace(n) for n in onnx.load(str(fp32), load_external_data=False).graph.node}
    m = onnx.load(str(pre))
    for n in m.graph.node:
        if ns.get(n.name) and not node_namespace(n):
            n.metadata_props.add(key="namespace", value=ns[n.name])
    onnx.save(m, str(pre))


QDQ_OP_TYPES = ("Conv",)
WEIGHT_ONLY_OP_TYPES = ("Gemm", "MatMul")
MIN_WEIGHT_ONLY_ELEMENTS = 64


def node_namespace(node) -> str:
    return next((p.value for p in node.metadata_props if p.key == "namespace"), "")


# ONNX-only: module paths whose convolutions stay float in `--int8`. UDCformer's stem (4 convs on
# the 64 px image, the first on the full-range input) was the layer whose 8-bit activations cost
# the most agreement with float (export/README.md, `python -m benchmarks.int8_calibration`).
ONNX_FLOAT_SCOPES = ("udcformer.stem",)


def float_nodes(model, scopes: tuple[str, ...] = ONNX_FLOAT_SCOPES) -> list[str]:
    """Names of the nodes `quantize_qdq` keeps float by rule: FLOAT_UNDER_INT8 module classes and
    the modules at `scopes` (matched on the exporter's `namespace` path)."""
    def keep(ns: str) -> bool:
        return any(k in ns for k in FLOAT_UNDER_INT8) or any(f"/{s}:" in ns for s in scopes)
    return [n.name for n in model.graph.node if keep(node_namespace(n))]


CALIB_METHODS = ("minmax", "percentile", "entropy")
DEFAULT_CALIB_METHOD = "percentile"     # DEFAULT_PERCENTILE of each activation's histogram
DEFAULT_PERCENTILE = 99.999


def quantize_qdq(pre: Path, out: Path, calib, nodes_to_exclude: list[str] | None = None,
                 op_types: tuple[str, ...] = QDQ_OP_TYPES, method: str = DEFAULT_CALIB_METHOD,
                 percentile: float = DEFAULT_PERCENTILE, float_scopes: tuple[str, ...] = ONNX_FLOAT_SCOPES) -> None:
    """Static QDQ part of `lrdif-export --target onnx --int8`: the `op_types` nodes (default: Conv)
    get per-channel uint8 weights and uint8 activations calibrated over the real calibration crops
    (`method`: percentile (default; `percentile` of each activation's histogram), minmax or
    entropy); the `float_nodes` (FLOAT_UNDER_INT8, `float_scopes`) and `nodes_to_exclude` stay
    float; IO float. Chosen on PublicTest (export/README.md): percentile over 1,200 crops with the
    stem float agrees with float on 97.9-98.6 % of faces, MinMax over 300 on 96.3-97.7 %.
    Gemm/MatMul activations stay float: quantising them (the EPR modulation linears, window
    attention) cost 1.4-3.6 points of accuracy (export/README.md).

    Weights are uint8 (U8U8), not int8 (U8S8): onnxruntime fuses the QDQ into QLinearConv, and its
    x86 U8S8 kernels on CPUs without VNNI (AVX2 / AVX-512 without VNNI) add u8*s8 products pairwise
    in int16 (vpmaddubsw), which saturates; the first conv (full-range image, weights up to +-127)
    then computes something else than the QDQ graph says. On the AVX2-only EPYC this dropped the v3
    model from 98.0 % to 92.8 % top-1 agreement with torch (78.8 -> 76.2 accuracy, clean) while the
    same file on a VNNI CPU, or with graph optimisations off, was fine. U8U8 kernels accumulate in
    32 bits on every CPU: 99.0 % / 78.8, identical with optimisations on and off."""
    if method not in CALIB_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose from {', '.join(CALIB_METHODS)}")
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    bs = calib_batch(len(calib))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(calib):
                return None
            s = slice(self.i, self.i + bs)
            self.i += bs
            return {"image": calib.image[s], "landmarks": calib.landmarks[s]}

    cm = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
          "entropy": CalibrationMethod.Entropy}[method]
    extra = {"CalibPercentile": percentile} if method == "percentile" else {}
    excl = float_nodes(onnx.load(str(pre), load_external_data=False), float_scopes) + list(nodes_to_exclude or [])
    quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8,  # U8U8: see above
                    calibrate_method=cm, op_types_to_quantize=list(op_types),
                    nodes_to_exclude=sorted(set(excl)), extra_options=extra)


def quantize_weights_int8(path: Path, op_types: tuple[str, ...] = WEIGHT_ONLY_OP_TYPES) -> int:
    """Weight-only int8 in place: every float initializer that is input B of an `op_types` node
    (and has >= MIN_WEIGHT_ONLY_ELEMENTS elements) becomes a symmetric per-output-channel int8
    tensor + scale behind a DequantizeLinear, so it is stored in 8 bits and computed in float.
    Initializers shared by several nodes (the unrolled diffusion loop reuses the denoiser's) are
    quantised once. Returns the number of tensors quantised."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(path))
    inits = {i.name: i for i in m.graph.initializer}
    done: dict[str, tuple[str, int]] = {}
    new_inits, new_nodes = [], []
    for n in m.graph.node:
        if n.op_type not in op_types or len(n.input) < 2 or n.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[n.input[1]])
        if w.dtype != np.float32 or w.size < MIN_WEIGHT_ONLY_ELEMENTS or w.ndim != 2:
            continue
        trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
        axis = 0 if (n.op_type == "Gemm" and trans_b) else 1   # the output-feature axis of B
        name = n.input[1]
        if name not in done:
            amax = np.abs(w).max(axis=1 - axis)
            scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
            q = np.clip(np.rint(w / np.expand_dims(scale, 1 - axis)), -127, 127).astype(np.int8)
            qn, sn, dn = f"{name}_int8", f"{name}_scale", f"{name}_dequantized"
            new_inits += [numpy_helper.from_array(q, qn), numpy_helper.from_array(scale, sn)]
            new_nodes.append(helper.make_node("DequantizeLinear", [qn, sn], [dn], axis=axis, name=f"{name}_DequantizeLinear"))
            done[name] = (dn, axis)
        if done[name][1] != axis:
            raise RuntimeError(f"initializer {name} is used with two output axes; cannot quantise it per channel")
        n.input[1] = done[name][0]
    still_used = {i for n in m.graph.node for i in n.input}
    keep = [i for i in m.graph.initializer if i.name not in done or i.name in still_used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep + new_inits)
    nodes = new_nodes + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return len(done)


class OnnxTarget(Target):
    """ONNX, dynamic batch axis (`batch` = 0 in the metadata), inputs `image`, `landmarks`, outputs
    `probabilities`, `logits`; metadata in `metadata_props["lrdif_metadata"]`.

    Exporter: `torch.onnx.export(dynamo=True)` for opset >= 18 (weights inline, no .onnx.data); the
    legacy TorchScript exporter for opset 13-17 (dynamo silently writes 18 when asked for less).

    int8 = mixed, chosen by measurement (export/README.md): convolutions are static QDQ (per-channel
    uint8 weights, uint8 activations calibrated at the 99.999th percentile over the real calibration
    crops; UDCformer's stem float; `quant_pre_process` first, with skip_symbolic_shape=True because the symbolic shape pass
    crashes on the dynamo graph); the Gemm/MatMul weights (EPR modulation, attention projections,
    denoiser, head) are int8 weight-only (DequantizeLinear in front of a float Gemm); LayerNorm and
    the landmark heatmap stay float. Quantising every activation (the first int8 scheme) lost
    1.4-3.6 points. `quantize_dynamic` is NOT used: it breaks on the Gemm weights the unrolled
    diffusion loop shares (`ShapeInferenceError` / `MatMulInteger ... Incompatible dimensions`).
    IO stays float32, so the SDK feeds it like the float model.
    """
    name = "onnx"
    suffix = ".onnx"
    runtime = "onnxruntime"
    backend = "onnxruntime"
    batch = 0

    def quantisation(self, int8: bool, fp16: bool = False) -> str:
        return "int8-qdq-conv-w8-linear" if int8 else "none"

    def int8_from_float(self) -> bool:
        return True

    def export(self, module: Any, sample_inputs: tuple, out_path: Path, int8: bool, calib: Any,
               metadata: ModelMetadata, opset: int = DEFAULT_OPSET, **options: Any) -> Exported:
        from lrdif.sdk.artifact_metadata import embed_metadata

        def convert(path: Path) -> dict[str, Any]:
            return self._convert(module, sample_inputs, path, opset)

        if int8:
            require_calib(calib, self.name)
            return self._export_int8_via_float(convert, out_path, calib, metadata)
        with atomic_path(Path(out_path)) as tmp:
            info = convert(tmp)
            embed_metadata(tmp, metadata, format="onnx")
        return Exported(Path(out_path), info)

    @staticmethod
    def _convert(module: Any, sample_inputs: tuple, path: Path, opset: int) -> dict[str, Any]:
        """The float graph (no metadata) at `path`; returns the exporter facts."""
        import onnx
        import torch

        image, landmarks = sample_inputs
        if image.shape[0] < 2:  # a batch of 1 would let torch.export specialise the batch dim
            image, landmarks = image.repeat(2, 1, 1, 1), landmarks.repeat(2, 1, 1)
        names = dict(input_names=["image", "landmarks"], output_names=["probabilities", "logits"])
        info: dict[str, Any] = {"opset": opset}
        if opset >= 18:
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(module, (image, landmarks), str(path), dynamo=True, external_data=False,
                              opset_version=opset, dynamic_shapes={"image": {0: batch}, "landmarks": {0: batch}},
                              verbose=False, **names)
            info["exporter"] = "torch.onnx.export(dynamo=True)"
        else:
            torch.onnx.export(module, (image, landmarks), str(path), dynamo=False, opset_version=opset,
                              dynamic_axes={n: {0: "batch"} for n in names["input_names"] + names["output_names"]},
                              **names)
            info["exporter"] = "torch.onnx.export(dynamo=False)"
        written = {o.domain: o.version for o in onnx.load(str(path), load_external_data=False).opset_import}
        if written.get("", written.get("ai.onnx")) != opset:
            raise RuntimeError(f"asked for opset {opset}, the exporter wrote {written}")
        return info

    def quantize(self, float_artifact: Path, out_path: Path, calib: Any, metadata: ModelMetadata,
                 method: str = DEFAULT_CALIB_METHOD, percentile: float = DEFAULT_PERCENTILE,
                 float_scopes: tuple[str, ...] = ONNX_FLOAT_SCOPES, **options: Any) -> Exported:
        """The int8 file from the float one (`quantize_qdq` with these calibration options, then the
        weight-only Gemm/MatMul step); `benchmarks.int8_calibration` varies the options."""
        from lrdif.sdk.artifact_metadata import embed_metadata

        require_calib(calib, self.name)
        with work_dir(out_path) as wd, atomic_path(Path(out_path)) as tmp:
            pre = wd / "pre.onnx"
            preprocess_for_int8(Path(float_artifact), pre)
            quantize_qdq(pre, tmp, calib, method=method, percentile=percentile, float_scopes=float_scopes)
            info = {"calibration_samples": len(calib),
                    "calibration_method": method + (f" {percentile}" if method == "percentile" else ""),
                    "float_scopes": list(float_scopes), "weight_only_int8_tensors": quantize_weights_int8(tmp)}
            embed_metadata(tmp, metadata, format="onnx")
        return Exported(Path(out_path), info)

    def _session(self, artifact: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        return ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])

    def check_artifact(self, artifact: Path, metadata: ModelMetadata) -> dict[str, Any]:
        sess = self._session(artifact, 1)
        ins = {i.name: i.shape for i in sess.get_inputs()}
        outs = {o.name: o.shape for o in sess.get_outputs()}
        s, k = metadata.input_size, metadata.num_classes
        assert list(ins) == ["image", "landmarks"], ins
        assert list(outs) == ["probabilities", "logits"], outs
        assert ins["image"][1:] == [3, s, s] and ins["landmarks"][1:] == [metadata.num_landmarks, 2], ins
        assert not isinstance(ins["image"][0], int), f"batch axis is not dynamic: {ins}"
        assert sess.get_modelmeta().custom_metadata_map.get("lrdif_metadata") == metadata.to_json()
        import onnx

        m = onnx.load(str(artifact), load_external_data=False)
        ops: dict[str, int] = {}
        for n in m.graph.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        return {"inputs": {n: [str(d) for d in v] for n, v in ins.items()},
                "outputs": {n: [str(d) for d in v] for n, v in outs.items()},
                "opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
                "qdq_nodes": ops.get("QuantizeLinear", 0) + ops.get("DequantizeLinear", 0),
                "checks": ["io names/shapes", "dynamic batch axis", "metadata via ORT custom_metadata_map"]}
