"""Tests of lrdif.training.degrade (fast; tiny FERPlus file)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from lrdif.training.degrade import (KINDS, POLED_LAYOUT, TOLED_LAYOUT, MixedDegradation, block_generator,  # noqa: E402
                                    compute_psf, degrade_images, load_psf, make_degradation,
                                    psf_second_moment)
from lrdif.training.degrade._color import linear_to_srgb, srgb_to_linear  # noqa: E402
from lrdif.training.degrade_cli import main as cli_main  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tiny_npz):
    with np.load(tiny_npz) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def batch(tiny):
    x = torch.from_numpy(tiny["images"][:16]).float().div(255)
    x = torch.nn.functional.interpolate(x[:, None], size=(64, 64), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous().clamp(0, 1)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# --- PSFs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ranges", [TOLED_LAYOUT, POLED_LAYOUT], ids=["toled", "poled"])
def test_psf_physics(ranges):
    layout = ranges.sample(np.random.default_rng(3))
    psf = compute_psf(layout)
    assert psf.shape[0] == 3 and (psf >= 0).all()
    np.testing.assert_allclose(psf.sum(axis=(1, 2)), 1.0, atol=1e-5)
    m2 = psf_second_moment(psf)
    assert m2[0] > m2[1] > m2[2], f"diffraction must scale with wavelength: R {m2[0]:.1f} G {m2[1]:.1f} B {m2[2]:.1f}"
    # zeroth diffraction order keeps ~ the geometric fill factor of the transmitted energy
    c = psf.shape[-1] // 2
    centre = psf[1, c - 1:c + 2, c - 1:c + 2].sum()
    assert 0.5 * layout.fill_factor < centre < layout.fill_factor + 0.3


@pytest.mark.parametrize("kind", ["udc-toled", "udc-poled"])
def test_crop_kernels_normalised(kind):
    deg = make_degradation(kind)
    ks, fill, r = deg.kernels(64)
    assert ks.shape[-1] == 2 * r + 1 and (ks >= 0).all()
    torch.testing.assert_close(ks.sum(dim=(-1, -2)), torch.ones(ks.shape[:3]), atol=1e-5, rtol=0)
    assert ((fill > 0) & (fill < 1)).all()


def test_poled_blurs_more_than_toled():
    mt = psf_second_moment(make_degradation("udc-toled").kernels(64)[0].mean(dim=(0, 1)).numpy())
    mp = psf_second_moment(make_degradation("udc-poled").kernels(64)[0].mean(dim=(0, 1)).numpy())
    assert (mp > mt).all()


def test_load_psf(tmp_path):
    p = tmp_path / "psf.npy"
    a = np.zeros((10, 10, 3))
    a[5, 5] = 2.0
    a[5, 6] = 1.0
    np.save(p, a)
    psf = load_psf(p)
    assert psf.shape == (3, 11, 11) and psf[:, 5, 5].tolist() == pytest.approx([2 / 3] * 3)
    bad = tmp_path / "neg.npy"
    np.save(bad, -np.ones((5, 5)))
    with pytest.raises(ValueError, match="neg.npy.*negative"):
        load_psf(bad)
    with pytest.raises(ValueError, match="missing.npy.*not found"):
        load_psf(tmp_path / "missing.npy")
    deg = make_degradation("udc-toled", psf=p)
    y = deg(torch.full((2, 3, 32, 32), 0.5), gen(0))
    assert y.shape == (2, 3, 32, 32)


# --- modules --------------------------------------------------------------------------------------

def test_srgb_round_trip():
    x = torch.linspace(0, 1, 101)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5, rtol=0)


def test_transmittance_lowers_brightness(batch):
    # noise-free, glare-free, no AE compensation: only transmittance + blur
    deg = make_degradation("udc-poled", brightness=(0.6, 0.6), glare=(0.0, 0.0),
                           electrons_white=(1e9, 1e9), read_noise_e=(0.0, 0.0))
    y = deg(batch, gen(0))
    assert y.mean() < batch.mean() - 0.05
    # the yellow polyimide leaves a colour cast: blue is attenuated most
    assert y[:, 2].mean() < y[:, 0].mean()


def test_noise_variance_grows_with_signal():
    deg = make_degradation("udc-toled", glare=(0.0, 0.0), brightness=(1.0, 1.0), wb_correction=(1.0, 1.0),
                           electrons_white=(500.0, 500.0), read_noise_e=(2.0, 2.0))
    flat = lambda v: torch.full((8, 3, 64, 64), v)  # noqa: E731
    # flat fields are unchanged by the (normalised) blur, so the spread is the sensor noise
    var_dark = srgb_to_linear(deg(flat(0.25), gen(1)))[..., 16:48, 16:48].var(dim=(2, 3)).mean()
    var_bright = srgb_to_linear(deg(flat(0.75), gen(1)))[..., 16:48, 16:48].var(dim=(2, 3)).mean()
    assert var_bright > 2 * var_dark


def test_lowlight_darkens_and_is_noisy(batch):
    deg = make_degradation("lowlight")
    y = deg(batch, gen(0))
    assert y.shape == batch.shape and y.min() >= 0 and y.max() <= 1
    assert y.mean() < 0.75 * batch.mean()
    flat = deg(torch.full((4, 3, 64, 64), 0.7), gen(0))
    assert flat.std(dim=(2, 3)).mean() > 1 / 255


@pytest.mark.parametrize("kind", KINDS)
def test_seeding(kind, batch):
    # the randomised / held-out UDC kinds with a 2-PSF bank: the same code path, seconds not minutes
    deg = make_degradation(kind, n_psf=2) if kind in ("udc-random", "udc-unseen") else make_degradation(kind)
    a, b, c = deg(batch, gen(5)), deg(batch, gen(5)), deg(batch, gen(6))
    assert a.shape == batch.shape and a.dtype == batch.dtype
    assert 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)
    if kind != "none":
        assert not torch.equal(a, c)


def test_unknown_kind():
    with pytest.raises(ValueError, match="udc-toled"):
        make_degradation("udc")
    with pytest.raises(ValueError, match="unknown parameter"):
        make_degradation("lowlight", exposure=(1, 2))


def test_mixed(batch):
    mix = MixedDegradation()
    y = mix(batch, gen(0))
    assert y.shape == batch.shape and torch.equal(y, mix(batch, gen(0)))
    assert not torch.equal(y, mix(batch, gen(1)))
    # a one-kind mix is exactly that kind on every row (after the mix's own per-row choice draw)
    only_ll = MixedDegradation({"lowlight": 1.0})
    g = gen(2)
    torch.multinomial(torch.ones(1).expand(batch.shape[0], -1), 1, generator=g)
    torch.testing.assert_close(only_ll(batch, gen(2)), only_ll.members["lowlight"](batch, g), atol=0, rtol=0)
    assert not torch.equal(only_ll(batch, gen(2)), batch)
    with pytest.raises(ValueError, match="valid kinds"):
        MixedDegradation({"fog": 1.0})


def test_degrade_images_batch_size_independent(tiny):
    imgs = tiny["images"][:40]
    a = degrade_images(imgs, "udc-toled", seed=3, size=32, batch_size=64, progress=False)
    b = degrade_images(np.concatenate([imgs, imgs])[:40], "udc-toled", seed=3, size=32, batch_size=256, progress=False)
    assert a.shape == (40, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    rgb = np.repeat(imgs[..., None], 3, axis=3)
    assert np.array_equal(degrade_images(rgb, "udc-toled", seed=3, size=32, progress=False), a)
    assert not np.array_equal(degrade_images(imgs, "udc-toled", seed=4, size=32, progress=False), a)
    assert block_generator(0, 0).initial_seed() != block_generator(0, 1).initial_seed()
    with pytest.raises(ValueError, match="uint8"):
        degrade_images(imgs.astype(np.float32), "none", 0)


# --- CLI ------------------------------------------------------------------------------------------

def test_cli_round_trip(tiny_npz, tiny, tmp_path):
    out = tmp_path / "out.npz"
    png = tmp_path / "prev.png"
    assert cli_main(["--kind", "udc-poled", "--seed", "1", "--size", "40", "--preview", str(png),
                     "--no-progress", str(tiny_npz), str(out)]) == 0
    with np.load(out) as z:
        d = {k: z[k] for k in z.files}
    assert d["images"].shape == (len(tiny["images"]), 40, 40, 3) and d["images"].dtype == np.uint8
    for k, v in tiny.items():
        if k != "images":
            assert np.array_equal(d[k], v), k
    meta = json.loads(str(d["degradation"]))
    assert meta["kind"] == "udc-poled" and meta["seed"] == 1 and meta["size"] == 40
    assert png.stat().st_size > 1000
    out2 = tmp_path / "out2.npz"
    assert cli_main(["--kind", "udc-poled", "--seed", "1", "--size", "40", "--no-progress", str(tiny_npz), str(out2)]) == 0
    assert out.read_bytes() == out2.read_bytes(), "output must be byte-reproducible"


def test_cli_split(tmp_path):
    src = tmp_path / "s.npz"
    np.savez(src, images=np.full((5, 16, 16), 100, np.uint8), votes=np.zeros((5, 10), np.uint8),
             split=np.array([0, 1, 2, 0, 2], np.uint8), vote_columns=np.array(["a"] * 10))
    out = tmp_path / "o.npz"
    assert cli_main(["--kind", "lowlight", "--seed", "0", "--size", "16", "--split", "1,2", "--no-progress",
                     str(src), str(out)]) == 0
    with np.load(out) as z:
        assert z["images"].shape == (3, 16, 16, 3)
        assert z["split"].tolist() == [1, 2, 2] and z["source_row"].tolist() == [1, 2, 4]
        assert z["vote_columns"].shape == (10,)


@pytest.mark.parametrize("case", ["missing", "not_npz", "no_images", "bad_dtype", "bad_shape"])
def test_cli_bad_input(case, tmp_path, capsys):
    src = tmp_path / f"{case}.npz"
    if case == "not_npz":
        src.write_text("hello")
    elif case == "no_images":
        np.savez(src, votes=np.zeros((3, 10), np.uint8))
    elif case == "bad_dtype":
        np.savez(src, images=np.zeros((3, 16, 16), np.float32))
    elif case == "bad_shape":
        np.savez(src, images=np.zeros((3, 16, 16, 4), np.uint8))
    out = tmp_path / "out.npz"
    assert cli_main(["--kind", "lowlight", "--seed", "0", "--no-progress", str(src), str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and src.name in err[0], err
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_console_script_module():
    r = subprocess.run([sys.executable, "-m", "lrdif.training.degrade_cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--kind" in r.stdout


def test_unseen_kinds_are_held_out_of_the_training_randomisation():
    """The held-out test kinds lie outside every training range on the parameters they hold out,
    so 'unseen panel' / 'unseen low-light' scores measure generalisation, not recall of a setting."""
    from lrdif.training.degrade.core import (LOWLIGHT_RANDOM_RANGES, LOWLIGHT_UNSEEN_RANGES, POLED_RANGES,
                                             TOLED_RANGES, UDC_RANDOM_RANGES, UDC_UNSEEN_RANGES, LOWLIGHT_RANGES)

    def disjoint(a, b):
        return a[1] < b[0] or b[1] < a[0]

    unseen = UDC_UNSEEN_RANGES.layout
    for r in (UDC_RANDOM_RANGES, TOLED_RANGES, POLED_RANGES):
        assert disjoint(unseen.pitch_um, r.layout.pitch_um)
    for r in (LOWLIGHT_RANDOM_RANGES, LOWLIGHT_RANGES):
        assert disjoint(LOWLIGHT_UNSEEN_RANGES.exposure_ev, r.exposure_ev)
        assert disjoint(LOWLIGHT_UNSEEN_RANGES.illuminant_k, r.illuminant_k)
    # the training randomisation covers both canonical panels' geometry
    for r in (TOLED_RANGES, POLED_RANGES):
        assert UDC_RANDOM_RANGES.layout.pitch_um[0] <= r.layout.pitch_um[0]
        assert r.layout.pitch_um[1] <= UDC_RANDOM_RANGES.layout.pitch_um[1]


@pytest.mark.parametrize("kind", ["lowlight-random", "lowlight-unseen"])
def test_new_lowlight_kinds_are_deterministic_and_darker(kind):
    deg = make_degradation(kind)
    assert deg.kind == kind
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    a = deg(x, torch.Generator().manual_seed(5))
    b = deg(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    if kind == "lowlight-unseen":      # beyond 4 EV with little recovery: clearly darker than the input
        assert float(a.mean()) < 0.8 * float(x.mean())
