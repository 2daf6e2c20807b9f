"""Emotion-model runners (`lrdif.sdk.backends`) on artifacts exported from the tiny preset.

ONNX: the SDK tests' own tiny artifact (test_sdk_support). LiteRT / ExecuTorch: the float artifacts
of the session's export matrix (tests/export_matrix_job.py, the same files test_export.py checks),
so no (target, precision) is converted twice in a session; the tests that read it are `slow` when
run alone (they wait for the matrix)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lrdif.sdk.backends import ModelLoadError, ModelNotFoundError, detect_backend, load_backend
from lrdif.sdk.labels import LABELS_8
from test_sdk_support import onnx_artifact, onnx_with_metadata, scratch


def _inputs(n: int, size: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
            rng.random((n, 468, 2), dtype=np.float32))


@pytest.fixture(scope="module")
def ort_backend():
    b = load_backend(onnx_artifact(), num_threads=1)
    yield b
    b.close()


def _torch_reference(crops, landmarks):
    import torch

    from test_sdk_support import _tiny_model

    from lrdif.training.inference import normalise, model_metadata

    model, cfg = _tiny_model()      # the training path: float crops in [0, 1] normalised by the metadata
    x = torch.from_numpy(crops).float().permute(0, 3, 1, 2) / 255.0
    with torch.no_grad():
        p, _ = model(normalise(x, model_metadata(cfg)), torch.from_numpy(landmarks))
    return p.numpy()


def test_onnxruntime_batch_in_one_call(ort_backend, monkeypatch):
    assert ort_backend.name == "onnxruntime"
    assert ort_backend.metadata.labels == LABELS_8 and ort_backend.metadata.input_size == 32
    calls = []
    orig = ort_backend._run_batch
    monkeypatch.setattr(ort_backend, "_run_batch", lambda i, l: calls.append(i.shape[0]) or orig(i, l))
    crops, lm = _inputs(3)
    probs, logits = ort_backend.run(crops, lm)
    assert calls == [3]                                  # dynamic batch: one runtime call
    assert probs.shape == logits.shape == (3, 8) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(probs, _torch_reference(crops, lm), atol=1e-5)
    empty = ort_backend.run(np.zeros((0, 32, 32, 3), np.uint8), np.zeros((0, 468, 2), np.float32))
    assert empty[0].shape == (0, 8)


def test_preprocess_follows_metadata(ort_backend):
    crops = np.zeros((1, 32, 32, 3), np.uint8)
    crops[0, :, :, 0] = 255
    x = ort_backend.preprocess(crops)
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32 and x.flags.c_contiguous
    assert np.all(x[0, 0] == 1.0) and np.all(x[0, 1:] == -1.0)      # (p/255 - 0.5) / 0.5, RGB, NCHW
    with pytest.raises(ValueError, match=r"\(B, 32, 32, 3\) uint8"):
        ort_backend.preprocess(np.zeros((1, 64, 64, 3), np.uint8))


def test_model_bytes_and_detection():
    data = onnx_artifact().read_bytes()
    assert detect_backend(data) == "onnxruntime"
    b = load_backend(data, num_threads=1)
    assert "bytes of model data" in b.source
    crops, lm = _inputs(2)
    assert b.run(crops, lm)[0].shape == (2, 8)
    with pytest.raises(ModelLoadError, match="unknown model format"):
        detect_backend("model.bin")
    with pytest.raises(ValueError, match="backend must be one of"):
        load_backend(onnx_artifact(), backend="tensorrt")


def _matrix_fp32(export_matrix, target: str) -> Path:
    """The float artifact of `target` from the session's export matrix."""
    e = export_matrix["report"]["entries"][f"{target}-fp32"]
    assert e["status"] == "ok", e.get("error")
    return Path(e["artifact"])


def _check_fixed_batch(backend, export_matrix, monkeypatch):
    assert backend.metadata.batch == 1
    calls = []
    orig = backend._run_batch
    monkeypatch.setattr(backend, "_run_batch", lambda i, l: calls.append(i.shape[0]) or orig(i, l))
    crops, lm = _inputs(3)
    probs, _ = backend.run(crops, lm)
    assert calls == [1, 1, 1]                           # fixed batch 1: one call per face
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    ref = load_backend(_matrix_fp32(export_matrix, "onnx"), num_threads=1).run(crops, lm)[0]   # same checkpoint
    np.testing.assert_allclose(probs, ref, atol=1e-4)


@pytest.mark.slow
def test_tflite_backend(export_matrix, monkeypatch):
    path = _matrix_fp32(export_matrix, "tflite")
    b = load_backend(path, num_threads=1)
    assert b.name == "tflite" and detect_backend(path) == "tflite"
    _check_fixed_batch(b, export_matrix, monkeypatch)
    from_bytes = load_backend(path.read_bytes(), num_threads=1)
    assert from_bytes.name == "tflite"


@pytest.mark.slow
def test_executorch_backend(export_matrix, monkeypatch):
    b = load_backend(_matrix_fp32(export_matrix, "executorch"), num_threads=1)
    assert b.name == "executorch"
    _check_fixed_batch(b, export_matrix, monkeypatch)


def test_coreml_only_on_macos():
    if sys.platform == "darwin":
        pytest.skip("Linux-only check")
    pkg = scratch("model.mlpackage")
    pkg.mkdir(exist_ok=True)
    with pytest.raises(ModelLoadError, match="CoreML models run only on macOS") as e:
        load_backend(pkg)
    assert str(pkg) in str(e.value)


# ---------------------------------------------------------------------------- bad artifacts
def test_missing_file():
    with pytest.raises(ModelNotFoundError, match="nowhere.onnx"):
        load_backend("/nonexistent/nowhere.onnx")
    with pytest.raises(FileNotFoundError):
        load_backend("/nonexistent/nowhere.tflite")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_onnx(damage):
    good = onnx_artifact().read_bytes()
    data = {"garbage": b"\x13\x37not a model" * 50, "truncated": good[: len(good) // 2], "empty": b""}[damage]
    path = scratch(f"corrupt-{damage}.onnx")
    path.write_bytes(data)
    with pytest.raises(ModelLoadError, match=str(path)):
        load_backend(path)


def test_onnx_without_metadata():
    with pytest.raises(ModelLoadError, match="tiny-nometa.onnx: no 'lrdif_metadata'"):
        load_backend(onnx_artifact(metadata=False))


@pytest.mark.parametrize("changes, message", [
    (dict(input_size=64, crop={"size": 64}), r"input 'image' has shape \(\?, 3, 32, 32\)"),
    (dict(labels=LABELS_8[:7]), r"output 'probabilities' has shape \(\?, 8\)"),
    (dict(input_layout="NHWC"), r"input 'image'"),
    (dict(input_names=("pixels", "landmarks")), r"model inputs are \['image', 'landmarks'\]"),
    (dict(output_names=("probs", "logits")), r"metadata expects \['probs', 'logits'\]"),
])
def test_metadata_mismatch(changes, message):
    from lrdif.sdk.metadata import CropSpec

    if "crop" in changes:
        changes["crop"] = CropSpec(**changes["crop"])
    path = onnx_with_metadata("mismatch.onnx", **changes)
    with pytest.raises(ModelLoadError, match=message) as e:
        load_backend(path)
    assert "mismatch.onnx" in str(e.value)


def test_metadata_target_mismatch():
    path = scratch("wrong-target.onnx")
    path.write_bytes(onnx_artifact().read_bytes())
    # metadata claiming another format: read by the ORT backend and refused
    import onnx

    from lrdif.sdk.metadata import METADATA_KEY

    m = onnx.load(str(path))
    for p in m.metadata_props:
        if p.key == METADATA_KEY:
            p.value = json.dumps({**json.loads(p.value), "target": "tflite"})
    onnx.save(m, str(path))
    with pytest.raises(ModelLoadError, match="wrong-target.onnx: metadata says target 'tflite'"):
        load_backend(path)


@pytest.mark.slow
def test_tampered_tflite_and_pte(export_matrix):
    data = _matrix_fp32(export_matrix, "tflite").read_bytes()
    path = scratch("truncated.tflite")
    path.write_bytes(data[:-200])                       # metadata zip cut off
    with pytest.raises(ModelLoadError, match="truncated.tflite"):
        load_backend(path)
    path = scratch("garbage.tflite")
    path.write_bytes(b"not a flatbuffer" * 100)
    with pytest.raises(ModelLoadError, match="garbage.tflite"):
        load_backend(path)
    pte = _matrix_fp32(export_matrix, "executorch")
    tampered = scratch("tampered.pte")
    raw = bytearray(pte.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    tampered.write_bytes(bytes(raw))
    (scratch("tampered.pte.json")).write_text(pte.with_name(pte.name + ".json").read_text())
    with pytest.raises(ModelLoadError, match="tampered.pte"):
        load_backend(tampered)


# ---------------------------------------------------------------------------- shipped default model
def test_default_model_manifest_checks(tmp_path):
    from lrdif.sdk.models import default_model_path

    with pytest.raises(ModelNotFoundError, match="manifest"):
        default_model_path(tmp_path / "manifest.json")
    model = tmp_path / "lrdif-mobile.onnx"
    model.write_bytes(onnx_artifact().read_bytes())
    import hashlib

    good = hashlib.sha256(model.read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps({"file": model.name, "sha256": good}))
    assert default_model_path(tmp_path / "manifest.json") == model
    (tmp_path / "manifest.json").write_text(json.dumps({"file": model.name, "sha256": "0" * 64}))
    with pytest.raises(ModelLoadError, match="failed its sha256 check"):
        default_model_path(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text(json.dumps({"file": "gone.onnx", "sha256": good}))
    with pytest.raises(ModelNotFoundError, match="gone.onnx"):
        default_model_path(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a valid model manifest"):
        default_model_path(tmp_path / "manifest.json")


def test_int8_io_quantisation():
    """int8/uint8 tensors are quantised with the tensor's own scale / zero point and dequantised
    back (`lrdif.sdk.backends.quant`, the one helper the LiteRT backend and the benchmarks use)."""
    from lrdif.sdk.backends.quant import dequantise, quantise

    x = np.array([-100.0, -1.0, 0.0, 0.26, 10.0, 100.0], np.float32)
    q = quantise(x, np.int8, (0.5, 3))
    assert q.dtype == np.int8 and q.tolist() == [-128, 1, 3, 4, 23, 127]
    np.testing.assert_allclose(dequantise(q, (0.5, 3)), (q.astype(np.float32) - 3) * 0.5)
    u = quantise(x, np.uint8, (0.5, 128))
    assert u.dtype == np.uint8 and u.tolist() == [0, 126, 128, 129, 148, 255]
    assert quantise(x, np.float32, (0.0, 0)).dtype == np.float32 and dequantise(x, (0.0, 0)) is x
    np.testing.assert_array_equal(dequantise(q, (0.0, 0)), q.astype(np.float32))   # zero scale: plain cast
    with pytest.raises(ValueError, match="no quantisation scale"):
        quantise(x, np.int8, (0.0, 0))
