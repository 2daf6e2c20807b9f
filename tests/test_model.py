"""Fast tests of the LRDif model (tiny preset), its export wrapper and checkpoints."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrdif.sdk.labels import LABELS_8
from lrdif.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lrdif.training.model import (PRESETS, LRDif, LRDifConfig, LRDifInference, count_macs, count_params,
                                  epr_kl_loss, get_config, make_schedule)
from lrdif.training.model.lrdif import DEFAULT_LABEL_EMBEDDINGS

torch.set_num_threads(1)


def _inputs(cfg: LRDifConfig, b: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, cfg.in_chans, cfg.input_size, cfg.input_size, generator=g)
    lm = torch.rand(b, cfg.num_landmarks, 2, generator=g)
    y = torch.randint(0, cfg.num_classes, (b,), generator=g)
    return x, lm, y


def _model(name: str = "tiny", seed: int = 0, **ov) -> LRDif:
    torch.manual_seed(seed)
    return LRDif(get_config(name, **ov))


@pytest.fixture(scope="module")
def tiny() -> LRDif:
    return _model()


def test_label_embeddings_asset():
    emb = np.load(DEFAULT_LABEL_EMBEDDINGS)
    assert emb.shape == (len(LABELS_8), 384) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    m7 = LRDif(get_config("tiny", num_classes=7))
    assert torch.equal(m7.label_embeddings, torch.from_numpy(emb[:7]))


def test_unknown_preset_names_valid_ones():
    with pytest.raises(ValueError, match="mobile") as e:
        get_config("huge")
    assert "tiny" in str(e.value) and "paper" in str(e.value)
    with pytest.raises(ValueError):
        get_config("tiny", no_such_field=1)


def test_config_frozen_and_validated():
    cfg = get_config("mobile")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epr_dim = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        get_config("tiny", input_size=40)
    assert LRDifConfig.from_dict(dataclasses.asdict(cfg)) == cfg
    assert set(PRESETS) >= {"tiny", "mobile", "paper"}


def test_schedule_reaches_noise():
    s = make_schedule(4, 0.1, 0.99)
    assert s["betas"][0] == pytest.approx(0.1) and s["betas"][-1] == pytest.approx(0.99)
    assert s["alphas_cumprod"][-1] < 2e-3


@pytest.mark.parametrize("b", [1, 3])
def test_stage1_forward_backward(tiny, b):
    cfg = tiny.cfg
    x, lm, y = _inputs(cfg, b)
    tiny.train()
    t0 = time.process_time()          # CPU time: robust to other jobs on the shared cores
    logits, z = tiny.forward_stage1(x, lm, y)
    assert logits.shape == (b, cfg.num_classes) and z.shape == (b, cfg.epr_dim)
    F.cross_entropy(logits, y).backward()
    assert time.process_time() - t0 < 1.0
    assert tiny.fpen_s1.mlp[0].weight.grad is not None
    assert tiny.udcformer.classifier.weight.grad is not None
    tiny.zero_grad(set_to_none=True)


@pytest.mark.parametrize("b", [1, 3])
def test_stage2_forward_backward(tiny, b):
    cfg = tiny.cfg
    x, lm, y = _inputs(cfg, max(b, 2))
    x, lm, y = x[:b], lm[:b], y[:b]
    tiny.train()
    z_t = tiny.teacher_epr(x if b > 1 else x.repeat(2, 1, 1, 1), y if b > 1 else y.repeat(2))[:b]
    t0 = time.process_time()          # CPU time: robust to other jobs on the shared cores
    if b == 1:
        tiny.eval()   # BatchNorm cannot train on a batch of 1
    logits, z_hat = tiny.forward_stage2(x, lm, z_teacher=z_t)
    assert logits.shape == (b, cfg.num_classes) and z_hat.shape == (b, cfg.epr_dim)
    loss = F.cross_entropy(logits, y) + epr_kl_loss(z_t, z_hat)
    loss.backward()
    assert time.process_time() - t0 < 1.0
    assert tiny.denoiser.in_c.weight.grad is not None
    assert tiny.pnet_s2.mlp[0].weight.grad is not None
    assert tiny.fpen_s1.mlp[0].weight.grad is None          # teacher is not trained in stage 2
    tiny.zero_grad(set_to_none=True)


def test_kl_loss():
    z = torch.randn(4, 16)
    assert epr_kl_loss(z, z).item() == pytest.approx(0.0, abs=1e-6)
    assert epr_kl_loss(z, -z).item() > 0


def test_stage2_independent_of_labels(tiny):
    tiny.eval()
    x, lm, _ = _inputs(tiny.cfg, 3)
    a = tiny.forward_stage2(x, lm)[0]
    # stage-1 outputs do depend on labels; stage 2 / inference never see them
    l1 = tiny.forward_stage1(x, lm, torch.tensor([0, 1, 2]))[0]
    l2 = tiny.forward_stage1(x, lm, torch.tensor([3, 4, 5]))[0]
    assert not torch.allclose(l1, l2)
    tiny.label_embeddings.add_(1.0)
    try:
        b = tiny.forward_stage2(x, lm)[0]
        p = LRDifInference(tiny)(x, lm)[1]
    finally:
        tiny.label_embeddings.sub_(1.0)
    assert torch.equal(a, b) and torch.allclose(a, p)
    inf = LRDifInference(tiny)
    names = [n for n, _ in inf.named_parameters()] + [n for n, _ in inf.named_buffers()]
    assert not any(n.startswith("fpen_s1") or "label_embeddings" in n for n in names)


@pytest.mark.parametrize("b", [1, 3])
def test_inference_shapes_probabilities_determinism(b):
    m1, m2 = _model(seed=7), _model(seed=7)
    x, lm, _ = _inputs(m1.cfg, b)
    inf1, inf2 = LRDifInference(m1), LRDifInference(m2)
    with torch.no_grad():
        p, logits = inf1(x, lm)
        p_again, _ = inf1(x, lm)
        p2, logits2 = inf2(x, lm)
    assert p.shape == logits.shape == (b, m1.cfg.num_classes)
    assert torch.allclose(p.sum(-1), torch.ones(b), atol=1e-6)
    assert torch.equal(p, p_again)
    assert torch.equal(logits, logits2) and torch.equal(p, p2)
    assert torch.allclose(p, logits.softmax(-1))


def test_batch_consistency(tiny):
    tiny.eval()
    inf = LRDifInference(tiny)
    x, lm, _ = _inputs(tiny.cfg, 3)
    with torch.no_grad():
        full = inf(x, lm)[1]
        one = inf(x[1:2], lm[1:2])[1]
    assert torch.allclose(full[1:2], one, atol=1e-5)


def test_landmarks_matter(tiny):
    tiny.eval()
    x, lm, _ = _inputs(tiny.cfg, 2)
    inf = LRDifInference(tiny)
    with torch.no_grad():
        a = inf(x, lm)[1]
        b = inf(x, lm.flip(1))[1]
    assert not torch.allclose(a, b)


def test_steps_override(tiny):
    tiny.eval()
    x, lm, _ = _inputs(tiny.cfg, 2)
    with torch.no_grad():
        z4 = tiny.estimate_epr(x)
        z4b = tiny.estimate_epr(x, steps=4)
        z2 = tiny.estimate_epr(x, steps=2)
        i2 = LRDifInference(tiny, steps=2)
        z2_inf_logits = i2(x, lm)[1]
    assert torch.equal(z4, z4b)
    assert not torch.allclose(z4, z2)
    assert i2.steps == 2
    assert torch.allclose(z2_inf_logits, tiny.forward_stage2(x, lm, steps=2)[0])
    counts = {}
    for steps in (2, 4):
        calls = []
        h = tiny.denoiser.register_forward_hook(lambda *a: calls.append(1))
        with torch.no_grad():
            LRDifInference(tiny, steps=steps)(x, lm)
        h.remove()
        counts[steps] = len(calls)
    assert counts == {2: 2, 4: 4}


def test_insert_noise_flag():
    x, lm, y = _inputs(get_config("tiny"), 2)
    on = _model(insert_noise=True).eval()
    z_t = on.teacher_epr(x, y)
    with torch.no_grad():
        a = on.estimate_epr(x, z_t, noise=torch.zeros_like(z_t))
        b = on.estimate_epr(x, z_t, noise=torch.ones_like(z_t))
        start0 = on.estimate_epr(x)                     # fixed Z_T = 0 (inference start)
    assert not torch.allclose(a, b)                     # the chain starts from the noised teacher
    off = _model(insert_noise=False).eval()
    off.load_state_dict(on.state_dict())
    with torch.no_grad():
        c = off.estimate_epr(x, z_t, noise=torch.ones_like(z_t))
    assert torch.allclose(c, start0)                    # without insert_noise: always Z_T = 0


def test_no_diffusion_ablation():
    m = _model(diffusion=False).eval()
    assert m.denoiser is None
    x, lm, _ = _inputs(m.cfg, 2)
    with torch.no_grad():
        assert torch.equal(m.estimate_epr(x), m.pnet_s2(x))
        inf = LRDifInference(m)
        assert not any(n.startswith("denoiser") for n, _ in inf.named_parameters())
        assert torch.allclose(inf(x, lm)[1], m.forward_stage2(x, lm)[0])
    assert count_params(LRDifInference(_model())) > count_params(inf)


def test_torch_export_static_graph(tiny):
    tiny.eval()
    inf = LRDifInference(tiny)
    x, lm, _ = _inputs(tiny.cfg, 2)
    ep = torch.export.export(inf, (x, lm), strict=False)
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert not any(w in t for t in targets for w in ("layer_norm", "normalize", "randn", "expand", "split")), targets
    got = ep.module()(x, lm)
    want = inf(x, lm)
    assert torch.allclose(got[0], want[0], atol=1e-6) and torch.allclose(got[1], want[1], atol=1e-5)


def test_forward_features_then_head_is_forward(tiny):
    tiny.eval()
    g = torch.Generator().manual_seed(0)
    s = tiny.cfg.input_size
    x, lm = torch.rand(3, 3, s, s, generator=g) * 2 - 1, torch.rand(3, 468, 2, generator=g)
    z = torch.randn(3, tiny.cfg.epr_dim, generator=g)
    with torch.no_grad():
        f = tiny.udcformer.forward_features(x, lm, z)
        assert f.shape == (3, tiny.cfg.head_dim)
        assert torch.equal(tiny.udcformer.forward_head(f), tiny.udcformer(x, lm, z))


def test_checkpoint_with_legacy_schedule_buffers_loads(tiny, tmp_path):
    """Checkpoints written before the dead `betas` / `alphas_cumprod` buffers went (the shipped
    v3 among them) still load, strictly otherwise."""
    p = save_checkpoint(tmp_path / "ck.pt", tiny, tiny.cfg, 2, "tiny")
    ck = torch.load(p, weights_only=True)
    ck["state_dict"]["betas"] = torch.zeros(4)
    ck["state_dict"]["alphas_cumprod"] = torch.zeros(4)
    torch.save(ck, p)
    m, _, _ = load_checkpoint(p)
    assert "betas" not in m.state_dict() and "alphas_cumprod" not in m.state_dict()
    m2 = LRDif(tiny.cfg)
    m2.load_state_dict(ck["state_dict"])          # the teacher / resume path (nn.Module) too


def test_count_macs_and_params():
    m = _model()
    macs = count_macs(m, m.cfg)
    assert 1.9 * macs < count_macs(m, m.cfg, batch=2) < 2 * macs  # per-sample work (the zero Z_T step is shared)
    assert count_params(m) > count_params(LRDifInference(m))
    # the shipped preset's figures as the model card and README quote them (102.4 M MACs, 1.73 M params)
    mob = LRDif(get_config("mobile"))
    assert count_macs(mob, mob.cfg) == pytest.approx(102.4e6, rel=1e-3)
    assert count_params(LRDifInference(mob)) == 1_731_292


def test_checkpoint_round_trip(tiny, tmp_path):
    tiny.eval()
    p = save_checkpoint(tmp_path / "sub" / "ck.pt", tiny, tiny.cfg, 2, "tiny", meta={"epoch": np.int64(3)})
    assert p.exists() and not list(p.parent.glob("*.tmp"))
    m, cfg, ck = load_checkpoint(p, expected_stage=2)
    assert cfg == tiny.cfg and ck["preset"] == "tiny" and ck["meta"] == {"epoch": 3}
    assert ck["format"] == "lrdif.checkpoint/1" and ck["labels"] == list(LABELS_8)
    x, lm, _ = _inputs(cfg, 2)
    with torch.no_grad():
        assert torch.equal(LRDifInference(m)(x, lm)[1], LRDifInference(tiny)(x, lm)[1])
    with pytest.raises(CheckpointError, match="stage 2, expected stage 1"):
        load_checkpoint(p, expected_stage=1)


def test_checkpoint_errors(tiny, tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"not an lrdif checkpoint: .*junk.pt \(corrupt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an lrdif checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    p = save_checkpoint(tmp_path / "ck.pt", tiny, tiny.cfg, 1, "tiny")
    ck = torch.load(p, weights_only=True)
    torch.save({**ck, "format": "lrdif.checkpoint/99"}, tmp_path / "fmt.pt")
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        load_checkpoint(tmp_path / "fmt.pt")
    sd = dict(ck["state_dict"])
    sd.pop("udcformer.classifier.weight")
    sd["extra.weight"] = torch.zeros(1)
    torch.save({**ck, "state_dict": sd}, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match=r"missing keys \['udcformer.classifier.weight'\].*unexpected keys \['extra.weight'\]"):
        load_checkpoint(tmp_path / "mismatch.pt")
    cfg2 = dataclasses.asdict(dataclasses.replace(tiny.cfg, epr_dim=24))
    torch.save({**ck, "config": cfg2}, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_checkpoint(tmp_path / "shape.pt")


def test_landmark_heatmap_matches_naive():
    from lrdif.training.model.landmark_regions import region_matrix
    from lrdif.training.model.udcformer import LandmarkHeatmap
    cfg = get_config("tiny")
    hm = LandmarkHeatmap(cfg, 8)
    lm = torch.rand(2, cfg.num_landmarks, 2)
    got = hm(lm)
    c = (torch.arange(8) + 0.5) / 8
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    d2 = (gx[None, None] - lm[:, :, 0, None, None]) ** 2 + (gy[None, None] - lm[:, :, 1, None, None]) ** 2
    g = torch.exp(-d2 / (2 * cfg.landmark_sigma ** 2))                      # (B, N, H, W)
    m = torch.from_numpy(region_matrix(cfg.num_landmarks, cfg.landmark_groups))
    heat = torch.einsum("bnhw,ng->bghw", g, m)
    assert got.shape == (2, cfg.landmark_groups, 8, 8)
    assert torch.allclose(got, heat / (1 + heat), atol=1e-5)
