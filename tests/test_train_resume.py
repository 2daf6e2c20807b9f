"""lrdif-train: a run stopped mid-epoch and resumed ends with exactly the weights of the
uninterrupted run; the logit-adjusted loss moves predictions towards rare classes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lrdif.training import train
from lrdif.training.step import StepSettings, _losses, class_log_prior

MIX = "none:0.5,lowlight:0.5"


def _args(tiny_npz, work, out, *extra):
    return ["stage1", "--preset", "tiny", "--epochs", "2", "--degradations", MIX, "--data", str(tiny_npz),
            "--batch-size", "16", "--out", str(out), "--threads", "1", "--cache-dir", str(work / "lmcache"),
            "--no-progress", "--val-size", "0", "--log-every", "1", "--val-every", "10", *extra]


def _weights(out):
    return torch.load(out / "train_state.pt", weights_only=False)["model"]


def test_resume_mid_epoch_gives_the_uninterrupted_weights(tiny_npz, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train.main(_args(tiny_npz, tmp_path, whole, "--stop-at-step", "6")) == 0
    assert train.main(_args(tiny_npz, tmp_path, split, "--stop-at-step", "2")) == 0     # mid-epoch 1 (4 steps/epoch)
    st = torch.load(split / "train_state.pt", weights_only=False)
    assert (st["global_step"], st["epoch"], st["batch_in_epoch"]) == (2, 0, 2)
    assert train.main(_args(tiny_npz, tmp_path, split, "--stop-at-step", "6", "--resume")) == 0
    a, b = _weights(whole), _weights(split)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and the weights did move (the comparison is not between two untouched models)
    assert train.main(_args(tiny_npz, tmp_path, tmp_path / "short", "--stop-at-step", "1")) == 0
    c = _weights(tmp_path / "short")
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_bad_stop_and_logit_adjust_flags(tiny_npz, tmp_path):
    assert train.main(_args(tiny_npz, tmp_path, tmp_path / "x", "--stop-at-step", "0")) == 2
    assert train.main(_args(tiny_npz, tmp_path, tmp_path / "x", "--logit-adjust", "-1")) == 2


def test_logit_adjusted_loss_favours_rare_classes_on_an_imbalanced_set():
    """A linear model on an imbalanced 2-D problem: the adjusted loss raises the recall of the rare
    class (what it is for) and never lowers it."""
    rng = np.random.default_rng(0)
    n_major, n_minor = 900, 30
    x = np.concatenate([rng.normal(-0.5, 1.0, (n_major, 2)), rng.normal(0.5, 1.0, (n_minor, 2))]).astype(np.float32)
    y = np.concatenate([np.zeros(n_major), np.ones(n_minor)]).astype(np.int64)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    onehot = torch.nn.functional.one_hot(yt, 2).float()
    prior = class_log_prior(onehot)
    assert prior[0] > prior[1]

    def fit(tau):
        torch.manual_seed(0)
        lin = torch.nn.Linear(2, 2)
        opt = torch.optim.Adam(lin.parameters(), 0.05)
        s = StepSettings(stage=1, use_kl=False, kl_weight=0.0, soft_targets=False, label_smoothing=0.0,
                         augment=False, amp_bf16=False, logit_adjust=tau, log_prior=prior)
        for _ in range(300):
            loss, _, _ = _losses(s, False, lin(xt), None, None, yt, onehot)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = lin(xt).argmax(1)
        return float((pred[yt == 1] == 1).float().mean())

    plain, adjusted = fit(0.0), fit(1.0)
    assert adjusted >= plain + 0.3, (plain, adjusted)


def test_sigterm_saves_the_exact_state_and_resume_matches(tiny_npz, tmp_path):
    """SIGTERM mid-run: the step in flight finishes, the state is saved, exit is clean; --resume then
    ends with the weights of a run that was never stopped."""
    import csv
    import os
    import signal
    import threading
    import time

    many = ("--epochs", "40")                          # same schedule for both runs (cosine over 160 steps)
    whole, sig = tmp_path / "whole", tmp_path / "sig"
    assert train.main([*_args(tiny_npz, tmp_path, whole, "--stop-at-step", "12"), *many]) == 0

    def kill_after_step_2():
        log = sig / "train_log.csv"
        while True:
            if log.exists():
                with open(log) as f:
                    if any(r["phase"] == "train" and int(r["step"]) >= 2 for r in csv.DictReader(f)):
                        os.kill(os.getpid(), signal.SIGTERM)
                        return
            time.sleep(0.01)

    t = threading.Thread(target=kill_after_step_2, daemon=True)
    t.start()
    assert train.main([*_args(tiny_npz, tmp_path, sig), *many]) == 0
    t.join(5)
    stopped = torch.load(sig / "train_state.pt", weights_only=False)["global_step"]
    assert 2 <= stopped < 12, f"the signal landed at step {stopped}: the comparison needs a stop before 12"
    assert train.main([*_args(tiny_npz, tmp_path, sig, "--stop-at-step", "12", "--resume"), *many]) == 0
    a, b = _weights(whole), _weights(sig)
    for k in a:
        assert torch.equal(a[k], b[k]), k
