"""benchmarks.fused_head / fused_latency (issue 12's fused landmarks + emotion design): the emotion fork starts as an
exact copy of FaceMesh's later trunk blocks, training it leaves the shared (landmark) part untouched,
and the CLI runs end to end on a tiny vote table, refusing a bad --tap."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import fused_head
from lrdif.training.facemesh_weights import pretrained_facemesh_trunk
from lrdif.training.model.facemesh import FaceMeshTrunkConfig


@pytest.fixture(scope="module")
def trunk():
    return pretrained_facemesh_trunk(FaceMeshTrunkConfig(input_size=fused_head.SIZE)).eval()


def test_fork_starts_as_facemesh_and_training_leaves_the_shared_part(trunk):
    gen = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (6, 48, 48), dtype=torch.uint8, generator=gen)
    x = fused_head.to_input(imgs, fused_head.SIZE)
    shared_before = {k: v.clone() for k, v in trunk.state_dict().items()}
    fork = fused_head.EmotionFork(trunk, tap=9).eval()
    feats = fused_head.shared_features(trunk, imgs, tap=9)
    y = feats.float()
    for blk in fork.blocks:
        y = blk(y)
    with torch.no_grad():
        ref = trunk.forward_features(x)
    assert feats.dtype == torch.float16 and feats.shape[1:] == (128, 12, 12)
    torch.testing.assert_close(y, ref, atol=0.05, rtol=0.02)        # float16 cache of the tap
    fork.train()
    opt = torch.optim.SGD(fork.parameters(), lr=0.5)
    fork(feats.float()).sum().backward()
    opt.step()
    for k, v in trunk.state_dict().items():
        assert torch.equal(v, shared_before[k]), k                  # the landmark path is unchanged
    assert any(not torch.equal(a, b) for a, b in zip(fork.blocks.parameters(), trunk.blocks[9:].parameters()))


def _tiny_npz(path, n=24):
    rng = np.random.default_rng(0)
    votes = np.zeros((n * 3, 10), dtype=np.int64)
    votes[np.arange(n * 3), rng.integers(0, 8, n * 3)] = 8
    np.savez(path, images=rng.integers(0, 256, (n * 3, 48, 48), dtype=np.uint8), votes=votes,
             split=np.repeat([0, 1, 2], n))
    return path


def test_cli_tiny_run_and_bad_tap(tmp_path, capsys):
    data = _tiny_npz(tmp_path / "tiny.npz")
    with pytest.raises(SystemExit, match="--tap must be in 1..13"):
        fused_head.main(["--out", str(tmp_path / "o"), "--data", str(data), "--tap", "14"])
    assert not (tmp_path / "o").exists()
    assert fused_head.main(["--out", str(tmp_path / "o"), "--data", str(data), "--epochs", "2",
                            "--batch-size", "8"]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert len(res["history"]) == 2 and res["selected_epoch"] in (1, 2)
    assert 0.0 <= res["selected"]["private"]["none"]["majority_acc"] <= 1.0
    assert res["cost"]["fork_macs"] < res["cost"]["facemesh_macs"]
    from benchmarks import fused_latency
    from test_sdk_support import onnx_artifact
    with pytest.raises(SystemExit, match="no such file"):
        fused_latency.main(["--fork", str(tmp_path / "none.pt"), "--lrdif", str(onnx_artifact())])
    assert fused_latency.main(["--fork", str(tmp_path / "o" / "fork.pt"), "--lrdif", str(onnx_artifact()),
                               "--iters", "5", "--out", str(tmp_path / "lat.json")]) == 0
    lat = json.loads((tmp_path / "lat.json").read_text())
    assert all(lat[k] > 0 for k in ("fork_onnx_p50_ms", "lrdif_onnx_p50_ms", "facemesh_tflite_p50_ms"))
    saved = torch.load(tmp_path / "o" / "fork.pt", weights_only=True)
    assert saved["tap"] == 9 and set(saved["state_dict"]) == set(fused_head.EmotionFork(
        pretrained_facemesh_trunk(FaceMeshTrunkConfig(input_size=fused_head.SIZE)), 9).state_dict())


def test_cli_canonical_sets(tmp_path):
    data = _tiny_npz(tmp_path / "tiny.npz")
    canon = tmp_path / "canon"
    with pytest.raises(SystemExit, match="no canonical set"):
        fused_head.main(["--out", str(tmp_path / "o"), "--data", str(data), "--canonical-dir", str(canon)])
    canon.mkdir()
    rng = np.random.default_rng(1)
    for kind in fused_head.CONDITIONS:
        votes = np.zeros((32, 10), dtype=np.uint8)
        votes[np.arange(32), rng.integers(0, 8, 32)] = 8
        np.savez(canon / f"ferplus_test_{kind}_s0_64.npz", images=rng.integers(0, 256, (32, 64, 64, 3), dtype=np.uint8),
                 votes=votes, split=np.repeat(np.array([1, 2], np.uint8), 16))
    shipped = Path(__file__).resolve().parents[1] / "training" / "weights" / "lrdif-mobile.pt"
    assert fused_head.main(["--out", str(tmp_path / "o"), "--data", str(data), "--canonical-dir", str(canon),
                            "--epochs", "1", "--batch-size", "8", "--checkpoint", str(shipped)]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(res["selected"]["private"]) == set(fused_head.CONDITIONS)
    assert res["selected"]["private"]["udc-poled"]["majority_n"] == 16
    ens = res["ensemble"]                      # LRDif + w x fork, w chosen on the PublicTest rows
    assert str(ens["weight"]) in ens["public_curve"] and set(ens["private"]) == set(fused_head.CONDITIONS)
    assert res["cost"]["lrdif_emotion_model"]["macs"] > res["cost"]["fork_macs"]
