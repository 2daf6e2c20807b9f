"""The benchmark's accuracy sets: degraded conditions come from the canonical `lrdif-degrade` files
(faces found on the degraded images, as `lrdif-eval --data <file>` does) when they exist, and from
the on-the-fly replay otherwise; the results say which."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmarks import evalsets  # noqa: E402


@pytest.fixture(scope="module")
def split_file(tmp_path_factory, tiny_npz):
    """The tiny FERPlus file with a `split` key: 48 PrivateTest rows, the rest training."""
    d = np.load(tiny_npz)
    split = np.zeros(len(d["images"]), np.uint8)
    split[16:] = 2
    out = tmp_path_factory.mktemp("evalsets") / "tiny_split.npz"
    np.savez(out, images=d["images"], votes=d["votes"], split=split)
    return out


@pytest.fixture(scope="module")
def canonical_dir(tmp_path_factory, split_file):
    from lrdif.training.degrade_cli import main as degrade_main
    folder = tmp_path_factory.mktemp("canonical")
    rc = degrade_main(["--kind", "lowlight", "--seed", "0", "--size", "64", "--split", "1,2", "--no-progress",
                       str(split_file), str(folder / "ferplus_test_lowlight_s0_64.npz")])
    assert rc in (0, None)
    return folder


def test_canonical_file_used_and_recorded(tmp_path, split_file, canonical_dir):
    from lrdif.training.data import prepare_crops
    from lrdif.training.datasets import load_dataset

    es = evalsets.build(["none", "lowlight"], 64, tmp_path, data=split_file, log=lambda *_: None,
                        canonical_dir=canonical_dir)
    info = es["info"]["conditions"]["lowlight"]
    assert info["source"] == "canonical"
    assert info["file_sha256"] == evalsets._sha(canonical_dir / "ferplus_test_lowlight_s0_64.npz")
    got = np.load(es["sets"]["lowlight"])
    clean = np.load(es["sets"]["none"])
    assert got["crops"].shape == clean["crops"].shape == (48, 64, 64, 3)
    np.testing.assert_array_equal(got["labels"], clean["labels"])

    # exactly what lrdif-eval cuts from the canonical file: front-end run on the degraded images
    ds = load_dataset(canonical_dir / "ferplus_test_lowlight_s0_64.npz", None, 8)
    ct, _ = prepare_crops(ds, size=64, progress=False)
    want = ct.subset(np.flatnonzero(ds.split == 2)).crops.numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(got["crops"], want)
    assert got["crops"].mean() < clean["crops"].mean() - 10      # it is the dark set, not the clean one


def test_missing_canonical_falls_back_to_on_the_fly(tmp_path, split_file):
    es = evalsets.build(["lowlight"], 64, tmp_path, data=split_file, log=lambda *_: None,
                        canonical_dir=tmp_path / "nowhere")
    info = es["info"]["conditions"]["lowlight"]
    assert info["source"] == "on-the-fly" and info["seed"] == evalsets.EVAL_SEED
    clean = np.load(es["sets"]["none"])["crops"]
    fly = np.load(es["sets"]["lowlight"])["crops"]
    np.testing.assert_array_equal(fly, evalsets.degrade_like_eval(clean, "lowlight"))


def test_canonical_with_other_labels_is_refused(tmp_path, split_file, canonical_dir):
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    d = dict(np.load(canonical_dir / "ferplus_test_lowlight_s0_64.npz"))
    d["votes"] = np.roll(d["votes"], 1, axis=0)
    np.savez(bad_dir / "ferplus_test_lowlight_s0_64.npz", **d)
    with pytest.raises(ValueError, match="labels do not match"):
        evalsets.build(["lowlight"], 64, tmp_path / "cache", data=split_file, log=lambda *_: None,
                       canonical_dir=bad_dir)
