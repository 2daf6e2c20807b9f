"""Mirror-averaged inference (LRDifConfig.mirror_average): the logits of a crop and of its mirror image
averaged in one batch, the same in LRDifInference (export), predict_logits (lrdif-eval, calibration)
and an exported ONNX file; switched on by the calibration CLI."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lrdif.training.model import LRDif, LRDifInference, get_config
from lrdif.training.model.landmark_regions import FACEMESH_MIRROR


def _models():
    torch.manual_seed(0)
    plain = LRDif(get_config("tiny"))
    mirrored = LRDif(get_config("tiny", mirror_average=True))
    mirrored.load_state_dict(plain.state_dict())
    return plain, mirrored


def _inputs(n: int = 3, size: int = 32):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 468, 2, generator=g)


def _mirror(x, lm):
    m = lm[:, torch.as_tensor(FACEMESH_MIRROR)].clone()
    m[..., 0] = 1 - m[..., 0]
    return x.flip(-1), m


@torch.no_grad()
def test_mirror_average_is_the_mean_of_both_views_and_mirror_invariant():
    plain, mirrored = _models()
    x, lm = _inputs()
    a, b = LRDifInference(plain), LRDifInference(mirrored)
    want = (a(x, lm)[1] + a(*_mirror(x, lm))[1]) / 2
    got = b(x, lm)[1]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    torch.testing.assert_close(b(*_mirror(x, lm))[1], got, rtol=0, atol=1e-5)
    assert (a(x, lm)[1] - got).abs().max() > 1e-4          # it is not the plain model's output


@torch.no_grad()
def test_eval_path_computes_what_the_exported_graph_computes():
    from lrdif.training.inference import model_metadata, normaliser, predict_logits

    _, mirrored = _models()
    g = torch.Generator().manual_seed(2)
    crops = torch.randint(0, 256, (5, 3, 32, 32), generator=g, dtype=torch.uint8)
    lm = torch.rand(5, 468, 2, generator=g)
    logits, _ = predict_logits(mirrored, crops, lm, stage=2, batch_size=2)
    x = normaliser(model_metadata(mirrored.cfg))(crops.float() / 255.0)
    torch.testing.assert_close(logits, LRDifInference(mirrored)(x, lm)[1], rtol=0, atol=1e-5)


def test_exported_onnx_averages_like_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from lrdif.export.cli import main
    from lrdif.training.checkpoint import save_checkpoint

    _, model = _models()
    ckpt = save_checkpoint(tmp_path / "m.pt", model, model.cfg, stage=2, preset="tiny")
    assert main(["--target", "onnx", "--opset", "17", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o"),
                 "--no-verify", "-q"]) == 0
    sess = ort.InferenceSession(str(next((tmp_path / "o").glob("*.onnx"))), providers=["CPUExecutionProvider"])
    x, lm = _inputs()
    got = sess.run(None, dict(zip([i.name for i in sess.get_inputs()], [x.numpy(), lm.numpy()])))
    with torch.no_grad():
        want = LRDifInference(model)(x, lm)
    np.testing.assert_allclose(got[0], want[0].numpy(), atol=1e-5)


def test_calibration_stores_mirror_average_in_the_checkpoint(tmp_path):
    from lrdif.export.graph import load_inference
    from lrdif.training.calibration import store_temperature
    from lrdif.training.checkpoint import load_checkpoint, save_checkpoint

    plain, _ = _models()
    p = save_checkpoint(tmp_path / "t.pt", plain, plain.cfg, 2, "tiny", {"model_version": "1.0.0"})
    store_temperature(p, 0.8, "test", mirror_average=True)
    _, cfg, _ = load_checkpoint(p)
    assert cfg == dataclasses.replace(plain.cfg, mirror_average=True)
    graph = load_inference(p)
    assert graph.module.mirror and graph.metadata.temperature == pytest.approx(0.8)
