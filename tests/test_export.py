"""Export layer: every target x {float, int8} on the tiny preset, run in its own runtime and compared
with torch on real FERPlus crops; metadata round-trip; corrupt artifacts; CLI flag errors.

The whole matrix is two `lrdif-export --target all` runs (float, int8) into one folder, sharing one
checkpoint made with `save_checkpoint`: the session's `export_matrix` (tests/export_matrix_job.py,
shared with test_backends.py); the parametrised tests then inspect the artifacts and the report.
Calibration/verification use the 64-image shared test file.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from export_matrix_job import VERIFY_N  # noqa: E402
from lrdif.export.cli import main  # noqa: E402
from lrdif.sdk.artifact_metadata import read_metadata, sidecar_path  # noqa: E402
from lrdif.sdk.labels import LABELS_8  # noqa: E402
from lrdif.sdk.metadata import MetadataError  # noqa: E402

TARGETS = ("onnx", "tflite", "executorch", "coreml")
VARIANTS = ("fp32", "int8")


# Targets known not to export (none now; TFLite int8 goes through ai-edge-quantizer, export/README.md).
KNOWN_BROKEN: dict[tuple[str, str], str] = {}


def _entry(export_matrix, target, variant):
    e = export_matrix["report"]["entries"][f"{target}-{variant}"]
    if e["status"] != "ok" and (target, variant) in KNOWN_BROKEN:
        pytest.xfail(f"{KNOWN_BROKEN[target, variant]}: {e.get('error')}")
    assert e["status"] == "ok", e.get("error")
    return e


def _inference(checkpoint):
    from lrdif.export.graph import load_inference
    return load_inference(checkpoint)


def test_runs_exit_zero_and_leave_no_temporaries(export_matrix):
    entries = export_matrix["report"]["entries"]
    failed = {k for k, e in entries.items() if e["status"] != "ok"}
    assert failed <= {f"{t}-{v}" for t, v in KNOWN_BROKEN}, {k: entries[k].get("error") for k in failed}
    assert export_matrix["rc"] == (1 if failed else 0)
    left = [p.name for p in export_matrix["out"].iterdir() if p.name.startswith(".")]
    assert left == [], left
    md = (export_matrix["out"] / "report.md").read_text()
    for t in TARGETS:
        assert f"## {t}-fp32" in md and f"## {t}-int8" in md


@pytest.mark.parametrize("target", TARGETS)
def test_keep_float_quantises_the_float_artifact(export_matrix, target):
    """`--int8 --keep-float`: ONNX, TFLite (dynamic) and CoreML make int8 from the float file of the
    same run (one conversion); ExecuTorch's int8 is its own PT2E lowering."""
    from lrdif.export.targets import get_target

    fp32, int8 = _entry(export_matrix, target, "fp32"), _entry(export_matrix, target, "int8")
    if get_target(target).int8_from_float():
        assert int8["quantised_from"] == fp32["artifact"]
        assert int8["size_bytes"] < fp32["size_bytes"]
        assert read_metadata(int8["artifact"]).quantisation != "none" == read_metadata(fp32["artifact"]).quantisation
    else:
        assert "quantised_from" not in int8


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("target", TARGETS)
def test_artifact_metadata_round_trip(export_matrix, target, variant):
    from lrdif.export.targets import REGISTRY

    e = _entry(export_matrix, target, variant)
    path = Path(e["artifact"])
    assert path.exists() and e["size_bytes"] > 10_000
    md = read_metadata(path)
    assert md.target == target and md.preset == "tiny" and md.labels == LABELS_8
    assert md.model_version == f"0.0.0+sha.{md.weights_sha256[:12]}"      # unversioned local checkpoint
    assert md.input_size == 32 and md.crop.size == 32 and md.diffusion_steps == 4
    assert md.batch == REGISTRY[target].batch
    assert md.quantisation == e["quantisation"] and (md.quantisation != "none") == (variant == "int8")
    assert len(md.weights_sha256) == 64


RUNNABLE = [t for t in TARGETS if t != "coreml" or sys.platform == "darwin"]


def _crops(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.random((n, 468, 2), dtype=np.float32)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("target", RUNNABLE)
def test_sdk_backend_runs_artifact_like_torch(export_matrix, target, variant):
    """Every runnable artifact, int8 included, through the SDK's own backend (`load_backend`, file
    type detection, uint8 crops, the SDK's preprocessing), against the torch fp32 module on the
    same crops. fp32 must match torch; the tiny model is untrained, so its int8 artifacts are only
    checked to run the product path with valid probabilities here (their accuracy is checked on
    the shipped model in test_int8_shipped_model_agrees_with_torch)."""
    from lrdif.sdk.backends import load_backend
    from lrdif.sdk.backends.base import preprocess

    e = _entry(export_matrix, target, variant)
    for name in ("clean", "udc"):
        s = e["sets"][name]
        assert s["n"] == VERIFY_N
        if variant == "fp32":
            assert s["top1_agreement"] == 100.0 and s["max_abs_prob_diff"] < 1e-4, s
    assert e["latency_ms_batch1"] > 0
    graph = _inference(export_matrix["checkpoint"])
    backend = load_backend(e["artifact"], num_threads=1)
    assert backend.name == {"onnx": "onnxruntime"}.get(target, target)
    assert backend.metadata.quantisation == e["quantisation"]
    crops, lm = _crops(5, seed=5)
    probs, logits = backend.run(crops, lm)
    with torch.no_grad():
        ref = graph.module(torch.from_numpy(preprocess(crops, backend.metadata)), torch.from_numpy(lm))[0].numpy()
    assert probs.shape == ref.shape == (5, 8) and np.all(np.isfinite(logits))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    if variant == "fp32":
        assert np.abs(probs - ref).max() < 1e-4
    else:
        assert not np.array_equal(probs, ref)   # really the quantised graph, not a float copy


@pytest.fixture(scope="module")
def shipped_int8(tiny_npz, tmp_path_factory):
    """The shipped v3 checkpoint export_matrix int8 (ONNX: the SDK's default runtime; the slower
    TFLite / ExecuTorch conversions of the mobile model stay out of the suite's time budget):
    agreement with torch is only meaningful on a trained model."""
    from lrdif.training.weights import default_checkpoint_path

    ckpt = default_checkpoint_path()
    assert ckpt.is_file(), f"shipped checkpoint missing: {ckpt}"
    out = tmp_path_factory.mktemp("shipped")
    rc = main(["--target", "onnx", "--int8", "--checkpoint", str(ckpt), "--out", str(out),
               "--calib", str(tiny_npz), "--calib-size", "64", "--allow-small-calib",
               "--verify-data", str(tiny_npz), "--verify-size", "64", "-q"])
    return rc, json.loads((out / "report.json").read_text())


@pytest.mark.parametrize("target", ["onnx"])
def test_int8_shipped_model_agrees_with_torch(shipped_int8, target):
    rc, report = shipped_int8
    assert rc == 0
    e = report["entries"][f"{target}-int8"]
    assert e["status"] == "ok", e.get("error")
    from lrdif.training.checkpoint import read_checkpoint
    from lrdif.training.weights import default_checkpoint_path
    shipped = read_checkpoint(default_checkpoint_path())["meta"]["model_version"]
    assert report["run"]["model_version"] == shipped and read_metadata(e["artifact"]).model_version == shipped
    for name in ("clean", "udc"):
        s = e["sets"][name]
        assert s["n"] == 64 and s["top1_agreement"] >= 90.0, s          # measured 92.2 / 93.8 % (clean / UDC)
        assert abs(s["accuracy"] - s["torch_fp32_accuracy"]) <= 5.0, s  # measured 1.6 / 3.1 points
        assert s["torch_fp32_accuracy"] >= 35.0, s                       # a trained model (chance 12.5 %; 48 / 47 %)


def test_onnx_int8_kernels_compute_the_qdq_graph(shipped_int8, tiny_npz):
    """The ONNX int8 file must compute the same on every CPU: onnxruntime's fused QLinearConv
    kernels (the SDK's default session) against the QDQ graph run as written (graph optimisations
    off, float DequantizeLinear -> Conv). With int8 (U8S8) Conv weights the kernels' int16 pair sums
    saturate on x86 CPUs without VNNI: the shipped v3 model fell from 98.0 to 92.8 % top-1 agreement
    with torch (kernels vs graph: max|dp| 0.46, 94 % top-1 on 64 real crops); uint8 weights (U8U8):
    max|dp| 0.06, 100 % (3.3.0: max|dp| 0.03, 61 of 64, the 3 others near-ties)."""
    import onnx
    import onnxruntime as ort

    from lrdif.export.data import load_verification
    from lrdif.sdk.backends.base import softmax

    rc, report = shipped_int8
    path = report["entries"]["onnx-int8"]["artifact"]
    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}
    conv_w = [inits[producer[n.input[1]].input[0]] for n in m.graph.node if n.op_type == "Conv"
              and n.input[1] in producer and producer[n.input[1]].op_type == "DequantizeLinear"]
    assert conv_w and all(w.data_type == onnx.TensorProto.UINT8 for w in conv_w)   # U8U8, no saturation
    md = read_metadata(path)
    fs = load_verification(tiny_npz, 64, len(md.labels), md.input_size, meta=md)["clean"]
    logits = []
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        logits.append(sess.run(["logits"], {"image": fs.image, "landmarks": fs.landmarks})[0])
    ref, fused = (softmax(x, md.temperature) for x in logits)
    # near-ties (top-2 within 0.05) may flip between two correct int8 paths: 3.3.0 flips 3 of 64 faces,
    # each a near-tie, at max|dp| 0.03; saturation moved probabilities by 0.46 and flipped clear winners
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.05
    assert clear.sum() >= 48 and (ref.argmax(1) == fused.argmax(1))[clear].mean() >= 0.98
    assert np.abs(ref - fused).max() < 0.1, np.abs(ref - fused).max()


def test_tflite_int8_is_dynamic_range_with_float_io(export_matrix):
    e = _entry(export_matrix, "tflite", "int8")
    assert e["quantisation"] == "int8-dynamic-wi8-afp32"
    assert e["inputs"]["image"]["dtype"] == "float32" and e["size_bytes"] < _entry(export_matrix, "tflite", "fp32")["size_bytes"]


def test_onnx_dynamic_batch_and_qdq(export_matrix):
    import onnxruntime as ort

    f, q = _entry(export_matrix, "onnx", "fp32"), _entry(export_matrix, "onnx", "int8")
    assert q["qdq_nodes"] > 0 and f["qdq_nodes"] == 0
    assert q["weight_only_int8_tensors"] > 0 and q["size_bytes"] < f["size_bytes"]
    sess = ort.InferenceSession(f["artifact"], providers=["CPUExecutionProvider"])
    out = sess.run(None, {"image": np.zeros((3, 3, 32, 32), np.float32),
                          "landmarks": np.full((3, 468, 2), 0.5, np.float32)})
    assert [o.shape for o in out] == [(3, 8), (3, 8)]


def test_onnx_int8_scheme(export_matrix):
    """int8 = static QDQ on Conv, int8 weight-only Gemm/MatMul, LayerNorm / heatmap float
    (export/targets/onnx.py): check it on the graph itself."""
    import onnx

    from lrdif.export.targets.onnx import node_namespace

    m = onnx.load(_entry(export_matrix, "onnx", "int8")["artifact"])
    producer = {o: n for n in m.graph.node for o in n.output}
    inits = {i.name: i for i in m.graph.initializer}
    def src(name):
        return producer[name].op_type if name in producer else ("initializer" if name in inits else "input")
    gemms = [n for n in m.graph.node if n.op_type in ("Gemm", "MatMul") and n.input[1] in producer
             and producer[n.input[1]].op_type == "DequantizeLinear"]
    assert gemms, "no weight-only int8 Gemm/MatMul"
    for n in gemms:  # weight int8, activation float
        assert inits[producer[n.input[1]].input[0]].data_type == onnx.TensorProto.INT8
        assert src(n.input[0]) != "DequantizeLinear", n.name
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    quantised = [n for n in convs if src(n.input[1]) == "DequantizeLinear"]  # int8 weight
    assert quantised and len(quantised) < len(convs)
    assert all(src(n.input[0]) == "DequantizeLinear" for n in quantised)   # and uint8 activation
    assert any("LayerNorm" in node_namespace(n) for n in convs)
    assert not any("LayerNorm" in node_namespace(n) for n in quantised)
    stem = [n for n in convs if "/udcformer.stem:" in node_namespace(n)]     # ONNX_FLOAT_SCOPES
    assert stem and not set(n.name for n in stem) & set(n.name for n in quantised)


def test_onnx_calibration_options():
    from lrdif.export.targets.onnx import calib_batch, quantize_qdq

    with pytest.raises(ValueError, match="unknown calibration method 'kl'"):
        quantize_qdq(Path("in.onnx"), Path("out.onnx"), None, method="kl")
    assert [calib_batch(n) for n in (1200, 300, 32, 7, 301, 1)] == [20, 20, 16, 7, 7, 1]


def test_executorch_reports_partitions(export_matrix):
    for v in VARIANTS:
        e = _entry(export_matrix, "executorch", v)
        assert e["delegate_partitions"] >= 1 and isinstance(e["ops_outside_delegate"], dict)
        assert not [op for op in e["ops_outside_delegate"] if "quantize" in op or "choose_qparams" in op]
    assert _entry(export_matrix, "executorch", "int8")["quantisation"] == "int8-pt2e-xnnpack-static-conv-dynamic-linear"


@pytest.mark.parametrize("variant", VARIANTS)
def test_coreml_spec(export_matrix, variant):
    e = _entry(export_matrix, "coreml", variant)
    assert e["spec_type"] == "mlProgram"
    assert e["inputs"] == {"image": [1, 3, 32, 32], "landmarks": [1, 468, 2]}
    assert e["outputs"] == ["probabilities", "logits"]
    assert "conv" in e["mil_ops"] and "softmax" in e["mil_ops"]
    assert (e["int8_weight_tensors"] > 0) == (variant == "int8")
    if sys.platform != "darwin":
        assert "macOS" in e["numerics"]
        if variant == "int8":
            s = e["simulated"]["sets"]["clean"]
            assert s["n"] == VERIFY_N and 0.0 < s["max_abs_prob_diff"] < 0.5
    sizes = {v: _entry(export_matrix, "coreml", v)["size_bytes"] for v in VARIANTS}
    assert sizes["int8"] < sizes["fp32"]


# ----------------------------------------------------------------------------- corrupt artifacts

def _copy(export_matrix, target, tmp_path, variant="fp32") -> Path:
    src = Path(_entry(export_matrix, target, variant)["artifact"])
    dst = tmp_path / src.name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
        if sidecar_path(src).exists():
            shutil.copy(sidecar_path(src), sidecar_path(dst))
    return dst


def test_corrupt_onnx(export_matrix, tmp_path):
    p = _copy(export_matrix, "onnx", tmp_path)
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(MetadataError, match=p.name):
        read_metadata(p)
    (tmp_path / "x").mkdir()
    q = _copy(export_matrix, "onnx", tmp_path / "x")
    data = q.read_bytes().replace(b'"schema": "lrdif.model/1"', b'"schema": "other.model/9"')
    q.write_bytes(data)
    with pytest.raises(MetadataError, match="unsupported metadata schema"):
        read_metadata(q)


def test_tflite_without_metadata(export_matrix, tmp_path):
    from lrdif.sdk.artifact_metadata import _tflite_flatbuffer_end

    p = _copy(export_matrix, "tflite", tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[:_tflite_flatbuffer_end(data)])
    with pytest.raises(MetadataError, match=f"{p.name}.*no appended 'metadata.json'"):
        read_metadata(p)
    p.write_bytes(b"\0" * 64)
    with pytest.raises(MetadataError, match="not a TFLite flatbuffer"):
        read_metadata(p)


def test_pte_sidecar_binds_to_program(export_matrix, tmp_path):
    p = _copy(export_matrix, "executorch", tmp_path)
    assert read_metadata(p).target == "executorch"
    data = bytearray(p.read_bytes())
    data[-100] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(MetadataError, match="different program"):
        read_metadata(p)
    sidecar_path(p).unlink()
    with pytest.raises(MetadataError, match="sidecar .* is missing"):
        read_metadata(p)


def test_mlpackage_tampered(export_matrix, tmp_path):
    p = _copy(export_matrix, "coreml", tmp_path)
    assert read_metadata(p).target == "coreml"
    (p / "Manifest.json").write_text("{not json")
    with pytest.raises(MetadataError, match="malformed Manifest.json"):
        read_metadata(p)
    (tmp_path / "b").mkdir()
    q = _copy(export_matrix, "coreml", tmp_path / "b")
    spec = next((q / "Data").rglob("model.mlmodel"))
    spec.write_bytes(spec.read_bytes().replace(b"lrdif_metadata", b"xxxxx_metadata"))
    with pytest.raises(MetadataError, match="no 'lrdif_metadata'"):
        read_metadata(q)


def test_metadata_target_mismatch_rejected(export_matrix, tmp_path):
    """A well-formed .tflite (its untouched copy loads) whose embedded metadata claims another
    target: refused by the metadata's `target`, not by the file magic."""
    import io
    import zipfile

    from lrdif.sdk.artifact_metadata import TFLITE_METADATA_MEMBER, _tflite_flatbuffer_end
    from lrdif.sdk.backends import ModelLoadError, load_backend
    from lrdif.sdk.metadata import METADATA_KEY

    p = _copy(export_matrix, "tflite", tmp_path)
    load_backend(p).close()                                     # the untouched copy loads
    data, wrong = p.read_bytes(), read_metadata(p).replace(target="onnx")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:                        # (embed_metadata refuses this on purpose)
        z.writestr(TFLITE_METADATA_MEMBER, json.dumps({METADATA_KEY: wrong.to_dict()}))
    p.write_bytes(data[:_tflite_flatbuffer_end(data)] + buf.getvalue())
    with pytest.raises(MetadataError, match=rf"{p.name}: metadata says target 'onnx' but the file is tflite"):
        read_metadata(p)
    with pytest.raises(ModelLoadError, match=rf"{p.name}: metadata says target 'onnx' but the file is tflite"):
        load_backend(p, backend="tflite")


def test_sdk_reader_imports_no_torch_or_onnx():
    code = ("import sys, lrdif.sdk.artifact_metadata; "
            "bad = [m for m in ('torch', 'onnx', 'coremltools', 'executorch') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode == 0


def test_failed_export_leaves_nothing(tmp_path):
    from lrdif.export.targets import REGISTRY
    from lrdif.sdk.metadata import ModelMetadata

    class Broken(torch.nn.Module):
        def forward(self, image, landmarks):
            raise RuntimeError("boom")

    x = (torch.zeros(1, 3, 32, 32), torch.zeros(1, 468, 2))
    for name in ("onnx", "executorch"):
        with pytest.raises(Exception):
            REGISTRY[name]().export(Broken(), x, tmp_path / f"m{REGISTRY[name].suffix}", False, None,
                                    ModelMetadata(target=name))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- CLI flag errors

def _cli(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


def test_unknown_target_suggests(capsys, tiny_checkpoint):
    rc, err = _cli(capsys, ["--target", "onxx", "--checkpoint", str(tiny_checkpoint)])
    assert rc == 2 and err == ["lrdif-export: error: unknown target 'onxx'; did you mean 'onnx'?"]


def test_missing_checkpoint(capsys, tmp_path):
    rc, err = _cli(capsys, ["--target", "onnx", "--checkpoint", str(tmp_path / "nope.pt")])
    assert rc == 2 and len(err) == 1 and "checkpoint not found" in err[0]


def test_default_checkpoint_missing_is_clear(capsys, monkeypatch, tmp_path):
    import lrdif.export.cli as cli

    monkeypatch.setattr(cli, "default_checkpoint", lambda: tmp_path / "weights" / "lrdif-mobile.pt")
    rc, err = _cli(capsys, ["--target", "onnx"])
    assert rc == 2 and len(err) == 1 and "default model checkpoint" in err[0] and "--checkpoint" in err[0]


@pytest.mark.parametrize("argv,needle", [
    (["--int8", "--calib-size", "100"], "below 300"),
    (["--int8", "--calib", "/nonexistent/calib.npz"], "calibration data not found"),
    (["--fp16"], "--fp16 applies to coreml only"),
    (["--opset", "9"], "--opset 9"),
    (["--keep-float"], "--keep-float applies to --int8 runs"),
    (["--bogus-flag"], "unrecognized arguments"),
    (["--verify-size", "0"], "--verify-size: must be >= 1"),
    (["--verify-size", "most"], "expected a count or 'all'"),
])
def test_bad_flags_exit_2(capsys, tiny_checkpoint, argv, needle):
    rc, err = _cli(capsys, ["--target", "onnx", "--checkpoint", str(tiny_checkpoint), *argv])
    assert rc == 2 and len(err) == 1 and needle in err[0], err
