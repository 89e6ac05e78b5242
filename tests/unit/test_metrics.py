"""latentstitch.metrics against direct numpy/scikit-learn computations."""

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from latentstitch import metrics


def _pair(seed=0, n=120, d=16, noise=0.7):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, d))
    return y + noise * rng.normal(size=(n, d)), y


def test_label_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert metrics.accuracy(t, p) == pytest.approx(np.mean(t == p))
    assert metrics.macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro"))
    assert metrics.weighted_f1(torch.from_numpy(t), p) == pytest.approx(f1_score(t, p, average="weighted"))
    with pytest.raises(ValueError, match=r"equal length.*\(200,\).*\(199,\)"):
        metrics.accuracy(t, p[:199])


@pytest.mark.parametrize("case", ["missing", "extra", "strings", "one_class"])
def test_f1_matches_sklearn_on_uneven_label_sets(case):
    """Our bincount F1 uses scikit-learn's label set: every class in y_true or y_pred."""
    rng = np.random.default_rng(2)
    t, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    if case == "missing":  # a true class never predicted (F1 0)
        p[p == 3] = 4
    elif case == "extra":  # a predicted class absent from y_true
        p[:7] = 9
    elif case == "strings":
        t, p = np.array(list("abcde"))[t], np.array(list("abcdf"))[p]
    else:
        t = np.zeros(300, dtype=int)
    for average, ours in (("macro", metrics.macro_f1), ("weighted", metrics.weighted_f1)):
        assert ours(t, p) == pytest.approx(f1_score(t, p, average=average, zero_division=0), abs=1e-12)


def test_latent_metrics_match_numpy():
    y_hat, y = _pair()
    cos = (y_hat * y).sum(1) / np.linalg.norm(y_hat, axis=1) / np.linalg.norm(y, axis=1)
    assert metrics.lcos(y_hat, y) == pytest.approx(cos.mean(), abs=1e-12)
    assert metrics.lmse(torch.from_numpy(y_hat).float(), y) == pytest.approx(np.mean((y_hat - y) ** 2), rel=1e-6)
    images, recon = y.reshape(120, 4, 4), y_hat.reshape(120, 4, 4)
    assert metrics.rmse(recon, images) == pytest.approx(np.mean((recon - images) ** 2), abs=1e-12)
    with pytest.raises(ValueError, match=r"same shape.*\(120, 16\).*\(120, 15\)"):
        metrics.lcos(y_hat, y[:, :15])


def _brute_force_ranks(q, t, csls_k=None):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    tn = t / np.linalg.norm(t, axis=1, keepdims=True)
    sims = qn @ tn.T
    if csls_k is not None:
        r_t = np.sort(sims, axis=1)[:, -csls_k:].mean(1)  # each query's k nearest targets
        r_q = np.sort(sims, axis=0)[-csls_k:, :].mean(0)  # each target's k nearest queries
        sims = 2 * sims - r_t[:, None] - r_q[None, :]
    return (sims >= np.diag(sims)[:, None]).sum(1)


@pytest.mark.parametrize("similarity,k", [("cosine", None), ("csls", 10)])
def test_retrieval_matches_brute_force_in_small_blocks(similarity, k):
    q, t = _pair(noise=1.5)
    ranks = _brute_force_ranks(q, t, k)
    # blocks of 500 similarities (4 query rows) force many chunks
    got = metrics.retrieval(q, t, similarity=similarity, block_elements=500)
    assert got["top1"] == pytest.approx(np.mean(ranks == 1))
    assert got["mrr"] == pytest.approx(np.mean(1.0 / ranks))
    assert metrics.retrieval(q, t, similarity=similarity) == pytest.approx(got)


def test_retrieval_perfect_and_degenerate():
    _, y = _pair()
    assert metrics.retrieval(y, y) == {"top1": 1.0, "mrr": 1.0}
    constant = np.ones_like(y)
    flat = metrics.retrieval(constant, np.ones_like(y))  # every target ties: ranks count against
    assert flat["top1"] == 0.0 and flat["mrr"] == pytest.approx(1 / len(y))
    with pytest.raises(ValueError, match="unknown similarity 'dot'"):
        metrics.retrieval(y, y, similarity="dot")
