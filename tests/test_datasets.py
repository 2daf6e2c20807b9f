"""Dataset readers on small synthetic layouts built from REAL FERPlus face crops (tiny npz)."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lrdif.sdk.labels import LABELS_8
from lrdif.training.datasets import (RAF_TO_LRDIF, DatasetError, detect_layout, load_dataset,
                                     majority_labels, vote_distribution)


@pytest.fixture(scope="module")
def tiny(tiny_npz):
    with np.load(tiny_npz) as z:
        images, votes = z["images"], z["votes"]
    return images, votes, majority_labels(votes)


def _write(path: Path, gray: np.ndarray, size: int | None = None, rgb: bool = True) -> None:
    img = gray if size is None else cv2.resize(gray, (size, size), interpolation=cv2.INTER_LINEAR)
    if rgb:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


# ----------------------------------------------------------------------------- npz


def test_npz_tiny_majority_and_votes(tiny_npz, tiny):
    images, votes, labels = tiny
    ds = load_dataset(tiny_npz)
    assert len(ds) == 64 and ds.images.shape == (64, 48, 48) and ds.split is None
    assert np.array_equal(ds.labels, labels)
    assert np.bincount(ds.labels, minlength=8).tolist() == [8] * 8  # 8 per FER+ emotion
    img, lab, v = ds[0]
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8 and lab == labels[0] and v.shape == (10,)
    t = ds.targets()
    assert t.shape == (64, 8) and np.allclose(t.sum(1), 1) and np.array_equal(t.argmax(1), labels)
    with pytest.raises(DatasetError, match="no train/test split"):
        load_dataset(tiny_npz, split="test")


def test_npz_seven_class_drops_contempt(tiny_npz):
    ds = load_dataset(tiny_npz, classes=7)
    assert len(ds) == 56 and ds.labels.max() == 6 and ds.classes == 7
    assert ds.label_names == tuple(LABELS_8[:7])
    assert ds.targets().shape == (56, 7)


def test_vote_distribution_and_majority_ties():
    v = np.array([[3, 3, 0, 0, 0, 0, 0, 0, 4, 0], [0, 0, 0, 0, 0, 0, 0, 5, 0, 0]])
    assert majority_labels(v).tolist() == [0, 7]  # argmax over the 8 emotion columns, first wins ties
    d = vote_distribution(v, 8)
    assert np.allclose(d[0, :2], 0.5) and np.allclose(d[1, 7], 1.0)


def test_npz_rgb_any_size_with_split_and_labels(tmp_path, tiny):
    images, votes, labels = tiny
    rgb = np.stack([cv2.resize(cv2.cvtColor(im, cv2.COLOR_GRAY2RGB), (72, 72)) for im in images])
    split = np.array([0] * 40 + [1] * 12 + [2] * 12, np.uint8)
    p = tmp_path / "rgb.npz"
    np.savez(p, images=rgb, votes=votes, split=split)
    ds = load_dataset(p)
    assert ds.images.shape == (64, 72, 72, 3) and ds[3][0].shape == (72, 72, 3)
    assert len(load_dataset(p, "train")) == 40
    assert len(load_dataset(p, "public")) == 12 and len(load_dataset(p, "val")) == 12
    assert len(load_dataset(p, "test")) == 12 and len(load_dataset(p, "private")) == 12
    assert len(load_dataset(p, "public+private")) == 24
    # a file with integer labels instead of votes
    q = tmp_path / "labels.npz"
    np.savez(q, images=rgb[:10], labels=labels[:10])
    ds = load_dataset(q)
    assert ds.votes is None and np.array_equal(ds.labels, labels[:10])


def test_shared_ferplus_protocols(ferplus_npz):
    from lrdif.training.datasets import _select_split
    full = load_dataset(ferplus_npz)
    assert len(full) == 35710
    test = _select_split(full, "test")
    assert len(test) == 3573
    # README's PrivateTest majority counts
    assert test.class_counts() == {"neutral": 1274, "happiness": 929, "surprise": 450, "sadness": 449,
                                   "anger": 322, "disgust": 21, "fear": 98, "contempt": 30}
    assert len(_select_split(full, "public+private")) == 3579 + 3573
    assert len(_select_split(full, "train")) == 28558


# ----------------------------------------------------------------------------- fer2013 csv


def test_fer2013_csv_pair(tmp_path, tiny):
    images, votes, labels = tiny
    n = 12
    usages = ["Training"] * 6 + ["PublicTest"] * 3 + ["PrivateTest"] * 3
    fer_to_ours = {4: 0, 5: 1, 6: 2, 3: 3, 0: 4, 1: 5, 2: 6}  # FER2013 emotion codes (unused by FER+)
    with open(tmp_path / "fer2013.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for i in range(n):
            w.writerow([0, " ".join(map(str, images[i].reshape(-1).tolist())), usages[i]])
    plus_votes = votes[:n].astype(int).copy()
    plus_votes[4] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 9]   # NF majority -> dropped
    names = [f"fer{i:07d}.png" for i in range(n)]
    names[7] = ""                                    # no FER+ image -> dropped
    with open(tmp_path / "fer2013new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                    "fear", "contempt", "unknown", "NF"])
        for i in range(n):
            w.writerow([usages[i], names[i], *plus_votes[i].tolist()])
    assert detect_layout(tmp_path) == "fer2013-csv"
    ds = load_dataset(tmp_path / "fer2013.csv")
    keep = [i for i in range(n) if i not in (4, 7)]
    assert len(ds) == 10 and ds.meta["dropped_unknown_nf"] == 1 and ds.meta["dropped_no_image"] == 1
    assert np.array_equal(ds.images, images[keep])
    assert np.array_equal(ds.labels, labels[keep]) and np.array_equal(ds.votes, votes[keep])
    assert ds.split.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert len(load_dataset(tmp_path, "test")) == 3  # the folder holding fer2013.csv works too
    with pytest.raises(DatasetError, match="FER\\+ label file"):
        load_dataset(tmp_path / "fer2013new.csv")
    # row-count mismatch is reported
    (tmp_path / "sub").mkdir()
    shutil.copy(tmp_path / "fer2013.csv", tmp_path / "sub" / "fer2013.csv")
    lines = (tmp_path / "fer2013new.csv").read_text().splitlines()
    (tmp_path / "sub" / "fer2013new.csv").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(DatasetError, match="one row per fer2013.csv row"):
        load_dataset(tmp_path / "sub" / "fer2013.csv")


# ----------------------------------------------------------------------------- RAF-DB


def test_rafdb_layout(tmp_path, tiny):
    images, votes, labels = tiny
    ours_to_raf = {v: k for k, v in RAF_TO_LRDIF.items()}
    root = tmp_path / "RAF" / "basic"
    lines, expect, which = [], [], []
    k = 0
    for i in range(64):
        if labels[i] == 7:  # RAF-DB has no contempt
            continue
        name = f"train_{k + 1:05d}.jpg" if k < 20 else f"test_{k - 19:04d}.jpg"
        lines.append(f"{name} {ours_to_raf[int(labels[i])]}")
        _write(root / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg"), images[i], size=100)
        expect.append(int(labels[i]))
        which.append(i)
        k += 1
        if k == 28:
            break
    (root / "EmotionLabel").mkdir(parents=True)
    (root / "EmotionLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    assert detect_layout(tmp_path / "RAF") == "rafdb"
    ds = load_dataset(tmp_path / "RAF")
    assert ds.name == "rafdb" and ds.images.shape == (28, 100, 100, 3)
    assert ds.labels.tolist() == expect
    # the crop really is the face we wrote (jpeg: approximately)
    back = cv2.resize(cv2.cvtColor(ds.images[0], cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(back.astype(int) - images[which[0]].astype(int)).mean() < 8
    assert len(load_dataset(root, "train")) == 20 and len(load_dataset(root, "test")) == 8
    with pytest.raises(DatasetError, match="only train/test"):
        load_dataset(root, "public+private")
    # unreadable image -> error naming the file
    bad = root / "Image" / "aligned" / "train_00002_aligned.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="train_00002_aligned.jpg"):
        load_dataset(root)
    bad.unlink()
    with pytest.raises(DatasetError, match="not found: .*train_00002_aligned.jpg"):
        load_dataset(root)


# ----------------------------------------------------------------------------- KDEF


def test_kdef_layout(tmp_path, tiny):
    images, votes, labels = tiny
    code = {0: "NE", 1: "HA", 2: "SU", 3: "SA", 4: "AN", 5: "DI", 6: "AF"}
    root = tmp_path / "KDEF_and_AKDEF" / "KDEF"
    expect = {}
    j = 0
    for subj in range(1, 6):
        for i in range(64):
            if labels[i] == 7:
                continue
            if j % 9 == 0:
                for ang in ("S", "HL"):
                    name = f"A{'F' if subj % 2 else 'M'}{subj:02d}{code[int(labels[i])]}{ang}.JPG"
                    _write(root / f"A{'F' if subj % 2 else 'M'}{subj:02d}" / name, images[i], size=60)
                    expect[name] = int(labels[i])
            j += 1
    (root / "README.txt").write_text("not an image")
    assert detect_layout(tmp_path / "KDEF_and_AKDEF") == "kdef"
    ds = load_dataset(tmp_path / "KDEF_and_AKDEF")
    assert len(ds) == len(expect)
    got = {Path(f).name: int(l) for f, l in zip(ds.files, ds.labels)}
    assert got == expect
    test = load_dataset(root, "test")
    train = load_dataset(root, "train")
    assert len(test) + len(train) == len(ds) and len(test) > 0
    # subject-disjoint split
    subj = lambda fs: {Path(f).name[1:4] for f in fs}  # noqa: E731
    assert not subj(test.files) & subj(train.files)
    straight = load_dataset(root, kdef_angles=["S"])
    assert len(straight) == len(ds) // 2 and all(Path(f).stem.endswith("S") for f in straight.files)


# ----------------------------------------------------------------------------- folder


def test_folder_layout_with_synonyms_and_splits(tmp_path, tiny):
    images, votes, labels = tiny
    names = {0: "Neutral", 1: "happy", 2: "surprised", 3: "sad", 4: "angry", 5: "disgust", 6: "afraid",
             7: "contempt"}
    flat = tmp_path / "flat"
    for i in range(24):
        _write(flat / names[int(labels[i])] / f"img{i}.png", images[i], rgb=(i % 2 == 0))
    (flat / "misc").mkdir()
    ds = load_dataset(flat)
    assert detect_layout(flat) == "folder" and len(ds) == 24 and ds.split is None
    got = sorted((Path(f).name, int(l)) for f, l in zip(ds.files, ds.labels))
    assert got == sorted((f"img{i}.png", int(labels[i])) for i in range(24))
    # png round-trip is lossless: the pixels are the FERPlus crops
    i0 = int(Path(ds.files[0]).stem[3:])
    assert np.array_equal(ds.images[0][..., 0], images[i0])
    assert ds.meta["ignored_folders"] == ["misc"]
    split_root = tmp_path / "split"
    for i in range(32):
        part = "train" if i < 20 else "test"
        _write(split_root / part / names[int(labels[i])] / f"{i}.jpg", images[i])
    assert len(load_dataset(split_root)) == 32
    assert len(load_dataset(split_root, "train")) == 20 and len(load_dataset(split_root, "test")) == 12
    assert load_dataset(split_root, classes=7).labels.max() <= 6


def test_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="not found: .*nope.npz"):
        load_dataset(tmp_path / "nope.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="unknown dataset layout"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DatasetError, match="unknown dataset file type"):
        load_dataset(tmp_path / "x.txt")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DatasetError, match="broken.npz: cannot read npz"):
        load_dataset(tmp_path / "broken.npz")
    np.savez(tmp_path / "nolabels.npz", images=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DatasetError, match="neither 'votes' nor 'labels'"):
        load_dataset(tmp_path / "nolabels.npz")
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset(tmp_path / "nolabels.npz", split="banana")
    with pytest.raises(DatasetError, match="classes must be 7 or 8"):
        np.savez(tmp_path / "ok.npz", images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 1]))
        load_dataset(tmp_path / "ok.npz", classes=6)
    bad = tmp_path / "folder" / "happy"
    bad.mkdir(parents=True)
    (bad / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match="unreadable image file: .*a.png"):
        load_dataset(tmp_path / "folder")


# ----------------------------------------------------------------------------- degraded set


def test_degraded_npz_round_trips(tmp_path, tiny_npz, tiny):
    exe = shutil.which("lrdif-degrade") or str(Path(sys.executable).parent / "lrdif-degrade")
    if not Path(exe).exists():
        pytest.skip("lrdif-degrade CLI not installed")
    out = tmp_path / "tiny_lowlight.npz"
    r = subprocess.run([exe, str(tiny_npz), str(out), "--kind", "lowlight", "--seed", "3", "--no-progress",
                        "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ds = load_dataset(out)
    images, votes, labels = tiny
    assert ds.images.ndim == 4 and ds.images.shape[0] == 64 and ds.images.shape[-1] == 3
    assert np.array_equal(ds.labels, labels)
    assert ds[0][0].shape[-1] == 3


# ----------------------------------------------------------------------------- tensor data path


def test_facemesh_mirror_permutation():
    from lrdif.training.data import FACEMESH_MIRROR as P
    assert sorted(P.tolist()) == list(range(468))
    assert np.array_equal(P[P], np.arange(468))          # an involution
    for a, b in ((33, 263), (133, 362), (61, 291), (234, 454), (159, 386), (145, 374), (70, 300)):
        assert P[a] == b and P[b] == a
    for m in (1, 4, 152, 10, 0, 17):                      # mid-line points stay
        assert P[m] == m


def test_flip_and_affine_keep_landmarks_on_the_image():
    from lrdif.training.data import augment_batch, flip_batch, random_affine
    g = torch.Generator().manual_seed(0)
    b, s = 6, 32
    lm = torch.rand(b, 468, 2) * 0.5 + 0.25
    # image = a bright dot at landmark 33 of each sample
    x = torch.zeros(b, 3, s, s)
    px = (lm[:, 33] * s - 0.5).round().long()
    for i in range(b):
        x[i, :, px[i, 1], px[i, 0]] = 1.0
    mask = torch.tensor([True, False] * 3)
    xf, lf = flip_batch(x, lm, mask)
    # flipped samples: the dot is now where landmark 263 (the mirror of 33) says
    for i in range(b):
        k = 263 if mask[i] else 33
        yx = (lf[i, k] * s - 0.5).round().long()
        assert xf[i, 0, yx[1], yx[0]] == 1.0
    assert torch.equal(flip_batch(xf, lf, mask)[0], x) and torch.allclose(flip_batch(xf, lf, mask)[1], lm)
    # affine: the brightest pixel of the warped image sits at the transformed landmark (+-1 px)
    xa, la = random_affine(x, lm, g, max_shift=0.05, max_scale=0.05, max_rot_deg=10)
    for i in range(b):
        flat = int(xa[i, 0].argmax())
        yy, xx = divmod(flat, s)
        tx, ty = (la[i, 33] * s - 0.5).tolist()
        assert abs(xx - tx) <= 1.01 and abs(yy - ty) <= 1.01
    xo, lo = augment_batch(torch.rand(b, 3, s, s), lm, g)
    assert xo.shape == (b, 3, s, s) and lo.shape == lm.shape


def test_outlier_free_vote_distribution_drops_single_votes():
    from lrdif.training.datasets import outlier_free_vote_distribution

    votes = np.array([[6, 1, 0, 3, 0, 0, 0, 0, 0, 0],      # the single happiness vote is an outlier
                      [1, 1, 0, 0, 0, 0, 0, 0, 0, 8]])     # only single emotion votes: kept
    d = outlier_free_vote_distribution(votes)
    np.testing.assert_allclose(d[0], [6 / 9, 0, 0, 3 / 9, 0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(d[1], [0.5, 0.5, 0, 0, 0, 0, 0, 0])
    assert votes[0, 1] == 1                                 # the caller's table is not modified
