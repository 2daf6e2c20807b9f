"""FaceMesh's pretrained trunk inside LRDif (issue #12): config checks, zero-initialised taps, the
`lrdif-train --face-trunk` start from MediaPipe's weights, and an ONNX export that runs it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lrdif.training.model import LRDif, LRDifInference, get_config


def _pair(size: int = 64, seed: int = 0):
    torch.manual_seed(seed)
    plain = LRDif(get_config("tiny"))
    trunk = LRDif(get_config("tiny", face_trunk_size=size))
    missing, unexpected = trunk.load_state_dict(plain.state_dict(), strict=False)
    return plain, trunk, missing, unexpected


def _inputs(n: int = 3, size: int = 32):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 468, 2, generator=g)


def test_zero_initialised_trunk_leaves_a_trunkless_checkpoint_unchanged():
    plain, trunk, missing, unexpected = _pair()
    assert not unexpected and missing and all(k.startswith("udcformer.face_trunk.") for k in missing)
    x, lm = _inputs()
    a, b = LRDifInference(plain).eval(), LRDifInference(trunk).eval()
    with torch.no_grad():
        torch.testing.assert_close(b(x, lm)[0], a(x, lm)[0], rtol=0, atol=1e-6)
        for proj in trunk.udcformer.face_trunk.proj:           # the trunk is wired in: a non-zero tap moves the logits
            torch.nn.init.normal_(proj[1].weight, std=0.1)
        assert (b(x, lm)[0] - a(x, lm)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("size,taps", [(64, [5, 8, 11]), (128, [8, 11, 14])])
def test_taps_have_each_scales_resolution_and_width(size, taps):
    cfg = get_config("mobile", face_trunk_size=size)
    model = LRDif(cfg)
    ft = model.udcformer.face_trunk
    assert ft.taps == taps
    feats = ft(torch.zeros(2, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(2, d, r, r) for d, r in zip(cfg.dims, cfg.resolutions)]


@pytest.mark.parametrize("size", [48, 96, 256, -32])
def test_bad_trunk_size_is_refused_naming_the_field(size):
    with pytest.raises(ValueError, match="face_trunk_size"):
        get_config("mobile", face_trunk_size=size)


def test_exported_onnx_runs_the_trunk_like_torch(tmp_path):
    """The trunk's pad / max-pool / depthwise / PReLU / resize ops export and run in onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    from lrdif.export.cli import main
    from lrdif.training.checkpoint import save_checkpoint

    _, model, _, _ = _pair()
    for proj in model.udcformer.face_trunk.proj:
        torch.nn.init.normal_(proj[1].weight, std=0.1)
    ckpt = save_checkpoint(tmp_path / "trunk.pt", model, model.cfg, stage=2, preset="tiny")
    assert main(["--target", "onnx", "--opset", "17", "--checkpoint", str(ckpt), "--out", str(tmp_path / "out"),
                 "--no-verify", "-q"]) == 0
    onnx_file = next((tmp_path / "out").glob("*.onnx"))
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    x, lm = _inputs()
    names = [i.name for i in sess.get_inputs()]
    got = sess.run(None, dict(zip(names, [x.numpy(), lm.numpy()])))[0]
    with torch.no_grad():
        want = LRDifInference(model).eval()(x, lm)[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
