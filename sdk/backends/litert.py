"""LiteRT (TFLite) runner via ai_edge_litert. Handles int8/uint8 input/output quantisation using
each tensor's scale and zero point (`lrdif.sdk.backends.quant`). Metadata: read by lrdif.sdk.artifact_metadata."""
from __future__ import annotations

import re

import numpy as np

from lrdif.sdk.backends.base import Backend, ModelLoadError, dim, load_artifact_metadata, validate_io
from lrdif.sdk.backends.quant import dequantise, quantise
from lrdif.sdk.metadata import ModelMetadata

_GENERIC = re.compile(r"^(args|input|output)_\d+$")


def _natural(name: str) -> tuple:
    m = re.match(r"^(.*?)(\d+)$", name)
    return (m.group(1), int(m.group(2))) if m else (name, -1)


def _short(name: str) -> str:
    """'serving_default_image:0' -> 'image'; 'serving_default_output_0_output' -> 'output_0'."""
    n = name.split(":")[0]
    if n.startswith("serving_default_"):
        n = n[len("serving_default_"):]
    if n.endswith("_output") and n != "_output":
        n = n[: -len("_output")]
    return n


class LiteRTBackend(Backend):
    name = "tflite"
    target = "tflite"

    def _load(self, model: "str | bytes") -> ModelMetadata:
        from ai_edge_litert.interpreter import Interpreter

        meta = load_artifact_metadata(model, self.source)
        try:
            if isinstance(model, bytes):
                it = Interpreter(model_content=model, num_threads=self.num_threads)
            else:
                it = Interpreter(model_path=model, num_threads=self.num_threads)
            it.allocate_tensors()
        except Exception as e:
            raise ModelLoadError(f"{self.source}: cannot be loaded by LiteRT (corrupt, truncated or "
                                 f"not a .tflite model): {str(e).strip().splitlines()[0][:300]}") from None
        self._it = it
        ins, outs = self._io_details(it)
        shape = lambda d: tuple(dim(x) for x in d.get("shape_signature", d["shape"]))  # noqa: E731
        named_in = [(n, shape(d)) for n, d in ins]
        named_out = [(n, shape(d)) for n, d in outs]
        positional = (all(_GENERIC.match(n) for n, _ in named_in), all(_GENERIC.match(n) for n, _ in named_out))
        names = validate_io(meta, self.source, named_in, named_out, positional=positional)
        by_name = dict(ins + outs)
        self._details = {want: by_name[have] for want, have in names.items()}
        for want in meta.input_names:
            d = self._details[want]
            if d["dtype"] not in (np.float32, np.int8, np.uint8):
                raise ModelLoadError(f"{self.source}: input '{d['name']}' has dtype "
                                     f"{np.dtype(d['dtype']).name}; expected float32 or int8/uint8")
            if d["dtype"] != np.float32 and not d["quantization"][0]:
                raise ModelLoadError(f"{self.source}: integer input '{d['name']}' has no quantisation scale")
        self._cur_batch = int(self._details[meta.input_names[0]]["shape"][0])
        return meta

    @staticmethod
    def _io_details(it) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
        """[(name, tensor details)] of the inputs and outputs, in positional order. Names come from
        the model's signature (`serving_default` or its only one) when it has one, else from the
        tensor names ('serving_default_image:0' -> 'image')."""
        sigs = it.get_signature_list()
        if sigs:
            key = "serving_default" if "serving_default" in sigs else next(iter(sigs))
            runner = it.get_signature_runner(key)
            ins, outs = runner.get_input_details(), runner.get_output_details()
            order = lambda names: sorted(names, key=_natural)  # noqa: E731  (args_2 < args_10)
            return ([(n, ins[n]) for n in order(ins)], [(n, outs[n]) for n in order(outs)])
        return ([(_short(d["name"]), d) for d in it.get_input_details()],
                [(_short(d["name"]), d) for d in it.get_output_details()])

    def _run_batch(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        it = self._it
        (i_name, l_name), (p_name, g_name) = self.metadata.input_names, self.metadata.output_names
        feeds = ((self._details[i_name], image), (self._details[l_name], landmarks))
        if image.shape[0] != self._cur_batch:     # dynamic-batch model: resize to this batch
            for d, x in feeds:
                it.resize_tensor_input(d["index"], list(x.shape))
            it.allocate_tensors()
            self._cur_batch = image.shape[0]
        for d, x in feeds:
            it.set_tensor(d["index"], quantise(x, d["dtype"], d["quantization"]))
        it.invoke()
        p_d, g_d = self._details[p_name], self._details[g_name]
        return (dequantise(it.get_tensor(p_d["index"]), p_d["quantization"]),
                dequantise(it.get_tensor(g_d["index"]), g_d["quantization"]))

    def _release(self) -> None:
        self._it = None
