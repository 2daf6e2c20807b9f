"""Post-hoc class-prior shift: the choice rule on an imbalanced problem with a known answer, the
exact fold into the classifier bias, and the guard against folding twice."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lrdif.training.prior_shift import (accuracy_and_mean_class, choose_prior_shift, fold_into_classifier,
                                        log_class_prior)


def _imbalanced(seed=0, n=(900, 300, 30)):
    """Three Gaussian classes with means on a line; logits = the Bayes log-likelihoods + log prior, so
    the unshifted argmax favours the big class and s = -1 is the balanced-error optimum."""
    rng = np.random.default_rng(seed)
    mu = np.array([-1.0, 0.0, 1.0])
    y = np.concatenate([np.full(k, c) for c, k in enumerate(n)])
    x = rng.normal(mu[y], 0.8)
    prior = np.array(n, float) / sum(n)
    z = -(x[:, None] - mu[None]) ** 2 / (2 * 0.8 ** 2) + np.log(prior)
    return z, y, np.log(prior)


def test_choice_raises_mean_class_accuracy_within_the_accuracy_tolerance():
    z, y, lp = _imbalanced()
    a0, m0 = accuracy_and_mean_class(z, y, 3)
    c = choose_prior_shift(z, y, lp, tolerance=0.02)
    assert c.shift < 0                                  # towards the rare classes
    assert c.mean_class_accuracy > m0 + 0.02
    best = max(a for _, a, _ in c.curve)
    assert c.accuracy >= best - 0.02
    loose = choose_prior_shift(z, y, lp, tolerance=1.0)  # no accuracy constraint: the balanced optimum
    assert loose.shift == pytest.approx(-1.0, abs=0.3) and loose.mean_class_accuracy >= c.mean_class_accuracy


def test_bad_inputs_name_the_problem():
    z, y, lp = _imbalanced()
    with pytest.raises(ValueError, match="log prior"):
        choose_prior_shift(z, y, lp[:2])
    with pytest.raises(ValueError, match="empty grid"):
        choose_prior_shift(z, y, lp, grid=())


def test_log_prior_from_votes_is_the_mean_vote_distribution():
    votes = np.zeros((4, 10))
    votes[:3, 0] = 10
    votes[3, 1] = 5
    votes[3, 2] = 5
    lp = log_class_prior(votes, np.zeros(4, int), 8)
    p = np.exp(lp)
    assert p.sum() == pytest.approx(1.0) and p[0] > 0.7 and p[1] == pytest.approx(p[2])


def test_fold_is_exact_and_refused_twice(tmp_path):
    from lrdif.training.calibration import store_temperature
    from lrdif.training.checkpoint import load_checkpoint, save_checkpoint
    from lrdif.training.model import LRDif
    from lrdif.training.model.config import get_config

    cfg = get_config("tiny")
    torch.manual_seed(0)
    m = LRDif(cfg).eval()
    x, lm = torch.randn(3, 3, cfg.input_size, cfg.input_size), torch.rand(3, 468, 2)
    with torch.no_grad():
        before = m.forward_stage2(x, lm)[0]
    lp = np.log(np.linspace(1, 8, cfg.num_classes) / np.linspace(1, 8, cfg.num_classes).sum())
    p = tmp_path / "tiny.pt"
    save_checkpoint(p, m, cfg, 2, "tiny", {"model_version": "1.0.0"})
    store_temperature(p, 0.8, "test", prior_shift=(-0.5, list(lp)))
    m2, _, ck = load_checkpoint(p)
    with torch.no_grad():
        after = m2.forward_stage2(x, lm)[0]
    assert torch.allclose(after, before - 0.5 * torch.tensor(lp, dtype=after.dtype), atol=1e-5)
    assert ck["meta"]["calibration"]["prior_shift"]["shift"] == -0.5
    store_temperature(p, 0.9, "again")                 # a new T keeps the recorded shift
    assert load_checkpoint(p)[2]["meta"]["calibration"]["prior_shift"]["shift"] == -0.5
    with pytest.raises(ValueError, match="already folded"):
        store_temperature(p, 0.9, "again", prior_shift=(-0.5, list(lp)))


def _parts(informative: str, seed=0, n=600, k=3):
    """Ensemble parts (log-softmax rows) where only `informative` ("base" or "fork") carries the label."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    good = 2.0 * np.eye(k)[y] + rng.normal(0, 1.0, (n, k))
    noise = rng.normal(0, 1.0, (n, k))
    base, fork = (good, noise) if informative == "base" else (noise, good)
    ls = lambda z: z - np.log(np.exp(z).sum(1, keepdims=True))
    return ls(base), ls(fork), y


@pytest.mark.parametrize("informative, want", [("fork", 4.0), ("base", 0.25)])
def test_fork_weight_follows_the_informative_part(informative, want):
    from lrdif.training.prior_shift import choose_fork_weight

    base, fork, y = _parts(informative)
    lp = np.log(np.full(3, 1 / 3))
    c = choose_fork_weight(base, fork, y, lp, (0.25, 1.0, 4.0), prior_shift=True)
    assert c.weight == want
    assert [r[0] for r in c.table] == [0.25, 1.0, 4.0]
    best = max(r[2] for r in c.table)
    assert dict((r[0], r[2]) for r in c.table)[want] == best
    assert c.shift is not None and choose_fork_weight(base, fork, y, lp, (1.0,), prior_shift=False).shift is None


def test_fork_weight_bad_inputs_name_the_problem():
    from lrdif.training.prior_shift import choose_fork_weight

    base, fork, y = _parts("fork")
    lp = np.log(np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="both be"):
        choose_fork_weight(base, fork[:, :2], y, lp, (1.0,))
    with pytest.raises(ValueError, match="positive weights"):
        choose_fork_weight(base, fork, y, lp, ())
    with pytest.raises(ValueError, match="positive weights"):
        choose_fork_weight(base, fork, y, lp, (1.0, -1.0))
