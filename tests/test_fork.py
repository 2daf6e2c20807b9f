"""The FaceMesh emotion fork inside the emotion model (LRDifConfig.fork_size, lrdif.training.fork):
its shared part is MediaPipe's trunk, the exported graph and the eval path compute the same ensemble,
and the training CLI writes a loadable checkpoint that leaves the LRDif part and the shared part
untouched, refusing bad input with a message naming it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lrdif.training.calibration import store_temperature
from lrdif.training.checkpoint import load_checkpoint, write_untrained
from lrdif.training.facemesh_weights import pretrained_facemesh_trunk
from lrdif.training.fork import main as fork_main
from lrdif.training.model import LRDif, LRDifInference, get_config
from lrdif.training.model.facemesh import FaceMeshTrunkConfig
from lrdif.training.model.fork import build_fork, combine, fork_input


def test_config_rejects_bad_fork_fields():
    with pytest.raises(ValueError, match="fork_size must be 0 or a multiple of 32"):
        get_config("tiny", fork_size=48)
    with pytest.raises(ValueError, match="fork_tap must be in 1..13"):
        get_config("tiny", fork_size=64, fork_tap=14)
    with pytest.raises(ValueError, match="fork_base_temperature > 0"):
        get_config("tiny", fork_size=64, fork_base_temperature=0.0)
    assert LRDif(get_config("tiny")).fork is None


@torch.no_grad()
def test_shared_part_and_fresh_fork_are_mediapipe_trunk():
    cfg = get_config("mobile", fork_size=192, fork_tap=9)
    trunk = pretrained_facemesh_trunk(FaceMeshTrunkConfig(input_size=192)).eval()
    fork = build_fork(cfg).eval()
    fork.load_trunk(trunk)
    x01 = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    framed = fork_input(x01, 192)
    assert framed.shape == (2, 3, 192, 192)
    shared = fork.forward_shared((x01 - 0.5) / 0.5)               # the model's normalised crop
    torch.testing.assert_close(shared, trunk.forward_stages(framed, upto=9)[-1], rtol=0, atol=1e-5)
    y = shared
    for blk in fork.fork.blocks:
        y = blk(y)
    torch.testing.assert_close(y, trunk.forward_features(framed), rtol=0, atol=1e-4)


@torch.no_grad()
def test_graph_and_eval_path_compute_the_same_ensemble():
    from lrdif.training.inference import model_metadata, normaliser, predict_logits

    torch.manual_seed(0)
    model = LRDif(get_config("tiny", fork_size=64, fork_weight=0.5, fork_base_temperature=0.7)).eval()
    g = torch.Generator().manual_seed(1)
    crops = torch.randint(0, 256, (5, 3, 32, 32), generator=g, dtype=torch.uint8)
    lm = torch.rand(5, 468, 2, generator=g)
    logits, _ = predict_logits(model, crops, lm, stage=2, batch_size=2)
    x = normaliser(model_metadata(model.cfg))(crops.float() / 255.0)
    probs, graph = LRDifInference(model)(x, lm)
    torch.testing.assert_close(logits, graph, rtol=0, atol=1e-5)
    z, _ = model.forward_stage2(x, lm)
    torch.testing.assert_close(graph, combine(z, model.fork(x), 0.7, 0.5), rtol=0, atol=1e-5)
    want = torch.log_softmax(z / 0.7, 1) + 0.5 * torch.log_softmax(model.fork(x), 1)
    torch.testing.assert_close(graph, want, rtol=0, atol=1e-5)
    torch.testing.assert_close(probs, graph.softmax(1), rtol=0, atol=1e-6)


def test_ensemble_parts_recombine_to_the_ensemble_at_any_weight(tmp_path):
    """The calibration CLI picks the fork weight from the two parts; they must give back the graph's
    ensemble at the stored weight, and storing a weight changes the exported graph accordingly."""
    from lrdif.training.inference import model_metadata, normaliser, predict_logits

    torch.manual_seed(0)
    model = LRDif(get_config("tiny", fork_size=64, fork_weight=0.5, fork_base_temperature=0.7)).eval()
    g = torch.Generator().manual_seed(3)
    crops = torch.randint(0, 256, (5, 3, 32, 32), generator=g, dtype=torch.uint8)
    lm = torch.rand(5, 468, 2, generator=g)
    parts, _ = predict_logits(model, crops, lm, stage=2, batch_size=2, ensemble_parts=True)
    assert parts.shape == (5, 16)
    torch.testing.assert_close(parts[:, :8] + 0.5 * parts[:, 8:], predict_logits(model, crops, lm, stage=2)[0],
                               rtol=0, atol=1e-5)
    path = tmp_path / "f.pt"
    from lrdif.training.checkpoint import save_checkpoint
    save_checkpoint(path, model, model.cfg, 2, "tiny", {})
    store_temperature(path, 1.1, "test", fork_weight=1.25)
    m2, cfg2, ck2 = load_checkpoint(path)
    assert cfg2.fork_weight == 1.25
    assert ck2["meta"]["calibration"]["fork_weight"] == {"weight": 1.25, "before": 0.5, "source": "test"}
    x = normaliser(model_metadata(cfg2))(crops.float() / 255.0)
    torch.testing.assert_close(LRDifInference(m2.eval())(x, lm)[1], parts[:, :8] + 1.25 * parts[:, 8:],
                               rtol=0, atol=1e-5)
    store_temperature(path, 1.1, "test", prior_shift=(-0.2, [0.0] * 8))
    assert load_checkpoint(path)[2]["meta"]["calibration"]["fork_weight"]["weight"] == 1.25   # stays recorded
    with pytest.raises(ValueError, match="ensemble prior shift is folded in"):   # would rescale it
        store_temperature(path, 1.1, "again", fork_weight=0.5)
    with pytest.raises(ValueError, match="needs a checkpoint with the FaceMesh fork"):
        store_temperature(write_untrained(tmp_path / "plain.pt", "tiny"), 1.0, "t", fork_weight=1.0)


@torch.no_grad()
def test_ensemble_prior_shift_folds_into_the_fork_and_shifts_the_output():
    """With the fork, a prior shift is folded into the fork classifier's bias (scaled by 1 / w): the
    ensemble's probabilities become softmax(logits + s log pi) exactly, and the base is untouched."""
    from lrdif.training.prior_shift import fold_into_classifier, shift_key

    torch.manual_seed(0)
    model = LRDif(get_config("tiny", fork_size=64, fork_weight=0.5, fork_base_temperature=0.7)).eval()
    assert shift_key(model.cfg) == "ensemble_prior_shift" and shift_key(get_config("tiny")) == "prior_shift"
    g = torch.Generator().manual_seed(2)
    x, lm = torch.randn(4, 3, 32, 32, generator=g), torch.rand(4, 468, 2, generator=g)
    graph = LRDifInference(model)
    before, base_bias = graph(x, lm)[1], model.udcformer.classifier.bias.clone()
    lp = np.log(np.array([.3, .25, .15, .1, .1, .05, .03, .02]))
    fold_into_classifier(model, -0.6, lp)
    after = graph(x, lm)[1]
    torch.testing.assert_close(after.softmax(1), (before - 0.6 * torch.as_tensor(lp, dtype=torch.float32)).softmax(1),
                               rtol=0, atol=1e-6)
    assert not torch.allclose(after.softmax(1), before.softmax(1), atol=1e-3)
    assert torch.equal(model.udcformer.classifier.bias, base_bias)


def _split_npz(tiny_npz, path):
    """The 64 real FERPlus faces of the shared tiny file with a split: 40 training, 24 PublicTest."""
    with np.load(tiny_npz) as z:
        images, votes = z["images"], z["votes"]
    np.savez(path, images=images, votes=votes, split=np.repeat([0, 1], [40, 24]).astype(np.uint8))
    return path


def test_cli_writes_an_ensemble_checkpoint_and_refuses_bad_input(tmp_path, tiny_npz, capsys):
    data = _split_npz(tiny_npz, tmp_path / "split.npz")
    base = write_untrained(tmp_path / "base.pt", "tiny", seed=0)
    shift = (-0.3, [float(-i) for i in range(1, 9)])
    store_temperature(base, 0.8, "test", prior_shift=shift)        # a calibrated base, shift folded in
    out = tmp_path / "o" / "fork.pt"
    common = ["--data", str(data), "--size", "64", "--epochs", "2", "--batch-size", "16", "--threads", "1"]
    with pytest.raises(SystemExit, match="not an lrdif checkpoint: .*junk.pt"):
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
        fork_main(["--checkpoint", str(tmp_path / "junk.pt"), "--out", str(out), *common])
    with pytest.raises(SystemExit, match="fork_size must be 0 or a multiple of 32"):
        fork_main(["--checkpoint", str(base), "--out", str(out), *common[:2], "--size", "100"])
    assert not out.parent.exists()                                   # nothing half-written
    assert fork_main(["--checkpoint", str(base), "--out", str(out), *common]) == 0
    model, cfg, ckpt = load_checkpoint(out)
    fork = ckpt["meta"]["fork"]
    assert (cfg.fork_size, cfg.fork_tap) == (64, 9) and cfg.fork_weight == fork["weight"] > 0
    assert cfg.fork_base_temperature == fork["base_temperature"] == 0.8     # T0: the base's temperature
    cal = ckpt["meta"]["calibration"]                                # no temperature: the ensemble needs its own;
    assert "temperature" not in cal and cal["prior_shift"]["shift"] == -0.3   # the folded shift stays recorded
    assert len(fork["history"]) == 2 and fork["data"]["n_train"] == 40 and fork["data"]["n_public"] == 24
    base_model, _, _ = load_checkpoint(base)
    for k, v in base_model.state_dict().items():                    # the LRDif part is unchanged
        assert torch.equal(model.state_dict()[k], v), k
    trunk = pretrained_facemesh_trunk(FaceMeshTrunkConfig(input_size=64))
    for k, v in trunk.blocks[:9].state_dict().items():              # the shared part is MediaPipe's
        assert torch.equal(model.fork.shared.state_dict()[k], v), k
    trained = model.fork.fork.blocks.state_dict()
    assert any(not torch.equal(trained[k], v) for k, v in trunk.blocks[9:].state_dict().items())
    with pytest.raises(SystemExit, match="already has a fork"):
        fork_main(["--checkpoint", str(out), "--out", str(tmp_path / "again.pt"), *common])
    assert not (tmp_path / "again.pt").exists()
    # the ensemble gets its own prior shift (in the fork's bias); the base's stays recorded; a second is refused
    store_temperature(out, 0.9, "test", prior_shift=(-0.2, shift[1]))
    cal = load_checkpoint(out)[2]["meta"]["calibration"]
    assert cal["prior_shift"]["shift"] == -0.3 and cal["ensemble_prior_shift"]["shift"] == -0.2
    with pytest.raises(ValueError, match="already folded"):
        store_temperature(out, 0.9, "again", prior_shift=(-0.2, shift[1]))


@torch.no_grad()
def test_export_graph_without_the_fork_is_the_lrdif_part(tmp_path):
    from lrdif.export.graph import UsageError, load_inference

    ckpt = write_untrained(tmp_path / "fork.pt", "tiny", seed=0, fork_size=64, fork_base_temperature=0.7)
    full, plain = load_inference(ckpt), load_inference(ckpt, fork=False)
    assert full.module.fork is not None and plain.module.fork is None and plain.cfg.fork_size == 0
    assert plain.metadata.temperature == 0.7 and full.metadata.temperature == 1.0
    assert plain.metadata.model_version == full.metadata.model_version + "+nofork"
    x, lm = full.sample_inputs(batch=3)
    model, _, _ = load_checkpoint(ckpt)
    z, _ = model.forward_stage2(x, lm)
    torch.testing.assert_close(plain.module(x, lm)[1], z, rtol=0, atol=1e-5)     # UDCformer's logits
    assert (full.module(x, lm)[1] - z).abs().max() > 1e-3
    with pytest.raises(UsageError, match="has no FaceMesh emotion fork"):
        load_inference(write_untrained(tmp_path / "plain.pt", "tiny", seed=0), fork=False)


def test_export_cli_no_fork(tmp_path, capsys):
    from lrdif.export.cli import main
    from lrdif.sdk.artifact_metadata import read_metadata

    ckpt = write_untrained(tmp_path / "fork.pt", "tiny", seed=0, fork_size=64, fork_base_temperature=0.7)
    assert main(["--target", "onnx", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o"), "--no-fork",
                 "--no-verify", "-q"]) == 0
    meta = read_metadata(next((tmp_path / "o").glob("*.onnx")))
    assert meta.temperature == 0.7 and meta.model_version.endswith("+nofork")
    plain = write_untrained(tmp_path / "plain.pt", "tiny", seed=0)
    assert main(["--target", "onnx", "--checkpoint", str(plain), "--out", str(tmp_path / "p"), "--no-fork",
                 "--no-verify", "-q"]) != 0
    assert "has no FaceMesh emotion fork" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()                             # refused before any output


def test_cache_dir_reuses_maps_and_recomputes_a_corrupt_entry(tmp_path, tiny_npz):
    """A rerun with --cache-dir reads the trunk's maps from disk (same checkpoint, bit for bit); a
    damaged entry is recomputed; the options are recorded; a held-out test kind is refused."""
    data = _split_npz(tiny_npz, tmp_path / "split.npz")
    base = write_untrained(tmp_path / "base.pt", "tiny", seed=0)
    store_temperature(base, 0.8, "test")
    cache = tmp_path / "cache"
    common = ["--checkpoint", str(base), "--data", str(data), "--size", "64", "--epochs", "2", "--batch-size", "16",
              "--threads", "1", "--cache-dir", str(cache), "--train-kinds", "udc-random,lowlight", "--logit-adjust", "1"]
    assert fork_main([*common, "--out", str(tmp_path / "a.pt")]) == 0
    entries = sorted(cache.glob("maps-*.npy"))
    assert len(entries) == 4 + 4                       # 4 PublicTest conditions + clean, mirror, 2 kinds
    stamps = {p: p.stat().st_mtime_ns for p in entries}
    entries[0].write_bytes(b"damaged")
    assert fork_main([*common, "--out", str(tmp_path / "b.pt")]) == 0
    assert sorted(cache.glob("maps-*.npy")) == entries
    assert [p for p in entries if p.stat().st_mtime_ns != stamps[p]] == [entries[0]]   # only the damaged one rewritten
    a, b = torch.load(tmp_path / "a.pt", weights_only=False), torch.load(tmp_path / "b.pt", weights_only=False)
    for k, v in a["state_dict"].items():
        assert torch.equal(b["state_dict"][k], v), k
    fork = a["meta"]["fork"]
    assert fork["train_kinds"] == ["udc-random", "lowlight"] and fork["logit_adjust"] == 1.0
    with pytest.raises(SystemExit):
        fork_main([*common[:-4], "--train-kinds", "udc-unseen", "--out", str(tmp_path / "c.pt")])
    assert not (tmp_path / "c.pt").exists()


def test_logit_adjusted_loss_moves_predictions_towards_a_rare_class():
    """train_epochs with logit_adjust 1 (Menon et al.): on a 90/10 set where the features barely tell
    the classes apart, the adjusted head gives the rare class more probability than the plain one."""
    from types import SimpleNamespace

    from lrdif.training.fork import train_epochs
    gen = torch.Generator().manual_seed(0)
    y = (torch.rand(400, generator=gen) < 0.1).long()
    maps = (torch.randn(400, 4, generator=gen) + 0.3 * y[:, None]).half()
    targets = torch.nn.functional.one_hot(y, 2).float()
    rare = {}
    for tau in (0.0, 1.0):
        torch.manual_seed(0)
        head = torch.nn.Linear(4, 2)
        args = SimpleNamespace(epochs=3, batch_size=20, lr=0.05, weight_decay=0.0, seed=0, logit_adjust=tau)
        for _ in train_epochs(head, maps, targets, args):
            pass
        with torch.no_grad():
            rare[tau] = float(head(maps.float()).softmax(1)[:, 1].mean())
    assert rare[0.0] < 0.2 < rare[1.0]
