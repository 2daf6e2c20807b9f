"""ONNX target (runtime: onnxruntime)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrdif.sdk.metadata import ModelMetadata

from . import Target, atomic_path, require_calib, work_dir

DEFAULT_OPSET = 18
CALIB_BATCH = 20     # equal-sized batches: onnxruntime's histogram calibrators need them


def preprocess_for_int8(fp32: Path, pre: Path) -> None:
    """`quant_pre_process` as the int8 export runs it (the symbolic shape pass crashes on the dynamo
    graph, so it is skipped)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)


def quantize_qdq(pre: Path, out: Path, calib, nodes_to_exclude: list[str] | None = None) -> None:
    """The int8 of `lrdif-export --target onnx --int8`: static QDQ, MinMax calibration over the real
    calibration crops, per-channel symmetric int8 weights, uint8 activations, float IO.
    `nodes_to_exclude` keeps those nodes float (used by benchmarks.onnx_int8_sweep)."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(calib):
                return None
            s = slice(self.i, self.i + CALIB_BATCH)
            self.i += CALIB_BATCH
            return {"image": calib.image[s], "landmarks": calib.landmarks[s]}

    quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=list(nodes_to_exclude or []))


class OnnxTarget(Target):
    """ONNX, dynamic batch axis (`batch` = 0 in the metadata), inputs `image`, `landmarks`, outputs
    `probabilities`, `logits`; metadata in `metadata_props["lrdif_metadata"]`.

    Exporter: `torch.onnx.export(dynamo=True)` for opset >= 18 (weights inline, no .onnx.data); the
    legacy TorchScript exporter for opset 13-17 (dynamo silently writes 18 when asked for less).

    int8 = static QDQ: `quant_pre_process` (skip_symbolic_shape=True: the symbolic shape pass crashes
    on the dynamo graph), then `quantize_static` in QDQ format with a CalibrationDataReader over the
    real calibration crops, MinMax calibration, per-channel symmetric int8 weights, uint8
    activations. Dynamic quantisation is NOT used: `quantize_dynamic` breaks on the Gemm weights
    the unrolled diffusion loop shares (`ShapeInferenceError` / `MatMulInteger ... Incompatible
    dimensions`). The SDK feeds float32 either way (QDQ keeps float IO).
    """
    name = "onnx"
    suffix = ".onnx"
    runtime = "onnxruntime"
    batch = 0

    def quantisation(self, int8: bool, fp16: bool = False) -> str:
        return "int8-static-qdq" if int8 else "none"

    def export(self, module: Any, sample_inputs: tuple, out_path: Path, int8: bool, calib: Any,
               metadata: ModelMetadata, opset: int = DEFAULT_OPSET, **options: Any) -> Path:
        import onnx
        import torch

        from lrdif.sdk.artifact_metadata import embed_metadata

        if int8:
            require_calib(calib, self.name)
        out_path = Path(out_path)
        image, landmarks = sample_inputs
        if image.shape[0] < 2:  # a batch of 1 would let torch.export specialise the batch dim
            image, landmarks = image.repeat(2, 1, 1, 1), landmarks.repeat(2, 1, 1)
        names = dict(input_names=["image", "landmarks"], output_names=["probabilities", "logits"])
        self.export_info = {"opset": opset}
        with work_dir(out_path) as wd, atomic_path(out_path) as tmp:
            fp32 = wd / "fp32.onnx" if int8 else tmp
            if opset >= 18:
                batch = torch.export.Dim("batch", min=1, max=4096)
                torch.onnx.export(module, (image, landmarks), str(fp32), dynamo=True, external_data=False,
                                  opset_version=opset, dynamic_shapes={"image": {0: batch}, "landmarks": {0: batch}},
                                  verbose=False, **names)
                self.export_info["exporter"] = "torch.onnx.export(dynamo=True)"
            else:
                torch.onnx.export(module, (image, landmarks), str(fp32), dynamo=False, opset_version=opset,
                                  dynamic_axes={n: {0: "batch"} for n in names["input_names"] + names["output_names"]},
                                  **names)
                self.export_info["exporter"] = "torch.onnx.export(dynamo=False)"
            written = {o.domain: o.version for o in onnx.load(str(fp32), load_external_data=False).opset_import}
            if written.get("", written.get("ai.onnx")) != opset:
                raise RuntimeError(f"asked for opset {opset}, the exporter wrote {written}")
            if int8:
                pre = wd / "pre.onnx"
                preprocess_for_int8(fp32, pre)
                quantize_qdq(pre, tmp, calib)
                self.export_info["calibration_samples"] = len(calib)
            embed_metadata(tmp, metadata, format="onnx")
        return out_path

    def _session(self, artifact: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        return ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])

    def runner(self, artifact: Path, threads: int = 1):
        sess = self._session(artifact, threads)

        def run(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
            return sess.run(["probabilities"], {"image": image, "landmarks": landmarks})[0]
        return run

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
