"""Artifacts for the LrdifCore metadata tests, made at test time (never committed):

    python ios_demo/tools/make_fixtures.py OUT_DIR

- blazeface_lrdif.tflite: a copy of the cached BlazeFace model (lrdif.sdk.assets.face_model_paths)
  with lrdif metadata embedded by lrdif.sdk.artifact_metadata.embed_metadata (target tflite,
  temperature 1.5), plus the SDK's own reading of it in blazeface_lrdif.expected.json;
- blazeface_plain.tflite: the same model without metadata;
- lrdif_mobile.onnx (+ .expected.json): a tiny ONNX graph built with the onnx package (the
  lrdif signature: inputs image (N, 3, 64, 64) and landmarks (N, 468, 2), outputs probabilities and
  logits; global average pool -> one MatMul -> Softmax), not the real network, carrying the
  metadata of the SDK's shipped default model (lrdif.sdk.models.default_model_path, the file
  named by sdk/models/manifest.json) as the ONNX exporter would write it (target onnx, dynamic
  batch 0), embedded by embed_metadata into metadata_props; the ONNX-parsing tests use it since
  the shipped default is no longer an .onnx;
- tiny_lrdif.mlpackage (+ .expected.json): a one-op ML program saved by coremltools with the
  metadata embedded the same way (target coreml); skipped, with a note on stderr, when coremltools
  is not installed.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from lrdif.sdk.artifact_metadata import embed_metadata, read_metadata
from lrdif.sdk.assets import face_model_paths
from lrdif.sdk.metadata import ModelMetadata
from lrdif.sdk.models import default_model_path


def _expect(path: Path) -> None:
    md = read_metadata(path)
    path.with_name(path.name.split(".")[0] + ".expected.json").write_text(md.to_json())


def tflite(out: Path) -> None:
    src = face_model_paths(download=True)["detector"]   # cached (sha256-checked), fetched if missing
    shutil.copyfile(src, out / "blazeface_plain.tflite")
    dst = out / "blazeface_lrdif.tflite"
    shutil.copyfile(src, dst)
    embed_metadata(dst, ModelMetadata(target="tflite", temperature=1.5, model_name="tflite-fixture"))
    _expect(dst)


def onnx_model(out: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    md = read_metadata(default_model_path())   # the shipped default, sha256-checked
    k, size, n_lm = len(md.labels), md.input_size, md.num_landmarks
    w = np.linspace(-1.0, 1.0, 3 * k, dtype=np.float32).reshape(3, k)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
         helper.make_node("MatMul", ["features", "W"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        "lrdif_fixture",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size]),
         helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, ["N", n_lm, 2])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", k]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", k])],
        [numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lrdif-fixture")
    onnx.checker.check_model(model)
    dst = out / "lrdif_mobile.onnx"
    onnx.save(model, str(dst))
    embed_metadata(dst, md.replace(target="onnx", batch=0))
    _expect(dst)


def mlpackage(out: Path) -> None:
    try:
        import coremltools as ct
        from coremltools.converters.mil import Builder as mb
    except ImportError as e:
        print(f"make_fixtures: no coremltools ({e}); the .mlpackage test builds its spec in Swift", file=sys.stderr)
        return

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 8))])
    def prog(x):
        return mb.relu(x=x)

    model = ct.convert(prog, convert_to="mlprogram", skip_model_load=True)
    dst = out / "tiny_lrdif.mlpackage"
    model.save(str(dst))
    embed_metadata(dst, ModelMetadata(target="coreml", quantisation="int8-weights", model_name="coreml-fixture"))
    _expect(dst)


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    tflite(out)
    onnx_model(out)
    mlpackage(out)
    print(f"fixtures in {out}: {sorted(p.name for p in out.iterdir())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
