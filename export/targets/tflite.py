"""TFLite target (runtime: LiteRT `ai_edge_litert.interpreter.Interpreter`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrdif.sdk.metadata import ModelMetadata

from . import Exported, Target, atomic_path, calibrate_pt2e, require_calib

INT8_MODES = ("static", "dynamic")
DEFAULT_INT8_MODE = "dynamic"


def _named(module: Any):
    """Wrap so the TFLite signature `serving_default` has inputs `image`, `landmarks` and outputs
    `probabilities`, `logits` (litert-torch takes names from kwargs and from a dict output)."""
    import torch

    class Named(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, image, landmarks):
            p, l = self.m(image, landmarks)
            return {"probabilities": p, "logits": l}

    return Named(module).eval()


def _quantize_dynamic(path: Path) -> None:
    """Rewrite the float flatbuffer at `path` with int8 weights (ai-edge-quantizer, dynamic_wi8_afp32)."""
    import os

    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(str(path))
    qt.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    staged = Path(f"{path}.q")
    qt.quantize().export_model(str(staged), overwrite=True)
    os.replace(staged, path)


def _channels_last_friendly(module: Any) -> tuple[Any, dict[str, Any]]:
    """The exact rewrites of `litert_graph` (elementwise PReLU, channels-last zero pads)."""
    from .litert_graph import prelu_as_elementwise, register_nhwc_constant_pad

    module, n = prelu_as_elementwise(module)
    return module.eval(), {"prelu_as_elementwise": n, "nhwc_constant_pad": register_nhwc_constant_pad()}


class TFLiteTarget(Target):
    """TFLite flatbuffer via litert-torch (`use_v2=False`), batch 1, NCHW float32 inputs as the
    torch model takes them; signature `serving_default` with inputs `image`, `landmarks` and outputs
    `probabilities`, `logits`; metadata in a `metadata.json` zip appended to the flatbuffer.

    int8 = DYNAMIC-RANGE by default: the float flatbuffer quantised by ai-edge-quantizer's
    `dynamic_wi8_afp32` recipe (int8 weights, activations quantised on the fly by the kernels;
    float32 IO, so the SDK feeds it like the float model; metadata `quantisation` =
    `int8-dynamic-wi8-afp32`). Chosen because it is the flavour that runs: with litert-torch 0.10,
    full-integer static PT2E (`--tflite-int8 static`, int8 activations calibrated on the real crops)
    stops in the converter's layout pass ("Attempting to convert non-NHWC compatible node to NHWC:
    dequantize_per_tensor_..."), and dynamic PT2E converts to a model LiteRT refuses
    (FULLY_CONNECTED "failed to prepare"). A static model's INPUTS would be int8: the SDK's LiteRT backend
    quantises each input with that tensor's own `(scale, zero_point)`
    (`lrdif.sdk.backends.quant`); its `quantisation` ends in `int8-io`. Every export runs one inference before the file is moved into
    place, so a model LiteRT cannot load is never written.
    """
    name = "tflite"
    suffix = ".tflite"
    runtime = "LiteRT (ai_edge_litert.interpreter.Interpreter)"
    backend = "tflite"
    batch = 1

    def __init__(self, int8_mode: str = DEFAULT_INT8_MODE) -> None:
        if int8_mode not in INT8_MODES:
            raise ValueError(f"int8_mode must be one of {INT8_MODES}, got {int8_mode!r}")
        self.int8_mode = int8_mode

    def variant(self, int8: bool, fp16: bool = False) -> str:
        if int8 and self.int8_mode != DEFAULT_INT8_MODE:
            return f"int8-{self.int8_mode}"
        return super().variant(int8, fp16)

    def needs_calibration(self, int8: bool) -> bool:
        return int8 and self.int8_mode == "static"

    def quantisation(self, int8: bool, fp16: bool = False) -> str:
        if not int8:
            return "none"
        return "int8-static-pt2e-int8-io" if self.int8_mode == "static" else "int8-dynamic-wi8-afp32"

    def int8_from_float(self) -> bool:
        return self.int8_mode == "dynamic"

    def export(self, module: Any, sample_inputs: tuple, out_path: Path, int8: bool, calib: Any,
               metadata: ModelMetadata, **options: Any) -> Exported:
        import litert_torch

        from lrdif.sdk.artifact_metadata import embed_metadata

        image, landmarks = (t[:1] for t in sample_inputs)
        kwargs = {"image": image, "landmarks": landmarks}
        info: dict[str, Any] = {"converter": f"litert_torch {getattr(litert_torch, '__version__', '')}".strip()}
        module, info["graph_rewrites"] = _channels_last_friendly(module)

        def convert(path: Path) -> dict[str, Any]:
            litert_torch.convert(_named(module), sample_kwargs=kwargs).export(str(path))
            return info

        if int8 and self.int8_from_float():
            return self._export_int8_via_float(convert, out_path, calib, metadata)
        with atomic_path(Path(out_path)) as tmp:
            if int8:
                self._convert_static(_named(module), kwargs, calib, info).export(str(tmp))
            else:
                convert(tmp)
            embed_metadata(tmp, metadata, format="tflite")
            self._smoke_test(tmp, metadata)
        return Exported(Path(out_path), info)

    def quantize(self, float_artifact: Path, out_path: Path, calib: Any, metadata: ModelMetadata,
                 **options: Any) -> Exported:
        """Dynamic-range int8 of a float `.tflite` (its metadata zip dropped first)."""
        from lrdif.sdk.artifact_metadata import embed_metadata, tflite_flatbuffer

        if not self.int8_from_float():
            raise NotImplementedError(f"tflite {self.int8_mode} int8 is converted from the model, not the float file")
        with atomic_path(Path(out_path)) as tmp:
            tmp.write_bytes(tflite_flatbuffer(Path(float_artifact).read_bytes()))
            _quantize_dynamic(tmp)
            embed_metadata(tmp, metadata, format="tflite")
            self._smoke_test(tmp, metadata)
        return Exported(Path(out_path), {"int8_mode": "dynamic (ai-edge-quantizer dynamic_wi8_afp32)"})

    def _convert_static(self, named: Any, kwargs: dict, calib: Any, info: dict) -> Any:
        """Full-integer PT2E (`--tflite-int8 static`): int8 activations calibrated on the crops."""
        import litert_torch
        import torch
        from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
        g = prepare_pt2e(torch.export.export(named, (), kwargs).module(), quantizer)
        require_calib(calib, self.name)
        calibrate_pt2e(g, calib)
        info.update(calibration_samples=len(calib), int8_mode="static")
        g = convert_pt2e(g, fold_quantize=False)
        return litert_torch.convert(g, sample_kwargs=kwargs, quant_config=QuantConfig(pt2e_quantizer=quantizer))

    @staticmethod
    def _smoke_test(path: Path, metadata: ModelMetadata) -> None:
        """Never move a model into place that the SDK's LiteRT backend cannot load and run."""
        from lrdif.sdk.backends import load_backend

        s = metadata.input_size
        try:
            b = load_backend(path, backend="tflite", num_threads=1)
            b.run(np.zeros((1, s, s, 3), np.uint8), np.full((1, metadata.num_landmarks, 2), 0.5, np.float32))
            b.close()
        except Exception as e:
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise RuntimeError(f"LiteRT cannot load the converted model: {first}") from None

    def _interpreter(self, artifact: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=str(artifact), num_threads=threads)
        it.allocate_tensors()
        return it

    def check_artifact(self, artifact: Path, metadata: ModelMetadata) -> dict[str, Any]:
        it = self._interpreter(artifact, 1)
        sigs = it.get_signature_list()
        assert "serving_default" in sigs, sigs
        assert sorted(sigs["serving_default"]["inputs"]) == ["image", "landmarks"], sigs
        assert sorted(sigs["serving_default"]["outputs"]) == ["logits", "probabilities"], sigs
        sig = it.get_signature_runner("serving_default")
        ins, outs = sig.get_input_details(), sig.get_output_details()
        s = metadata.input_size
        assert list(ins["image"]["shape"]) == [1, 3, s, s], ins["image"]["shape"]
        assert list(ins["landmarks"]["shape"]) == [1, metadata.num_landmarks, 2], ins["landmarks"]["shape"]
        int8_io = any(d["dtype"] != np.float32 for d in ins.values())
        assert int8_io == metadata.quantisation.endswith("int8-io"), \
            f"input dtypes {[d['dtype'] for d in ins.values()]} vs quantisation {metadata.quantisation!r}"
        return {"inputs": {n: {"shape": d["shape"].tolist(), "dtype": np.dtype(d["dtype"]).name,
                               "quantization": [float(d["quantization"][0]), int(d["quantization"][1])]}
                           for n, d in ins.items()},
                "outputs": {n: {"shape": d["shape"].tolist(), "dtype": np.dtype(d["dtype"]).name} for n, d in outs.items()},
                "checks": ["signature names/shapes", "interpreter loads the file with the appended metadata zip",
                           "input dtype matches the metadata's quantisation"]}
