"""latentstitch.similarity: invariances, identical spaces, direct O(n^2) references, errors."""

import math

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from latentstitch import similarity
from latentstitch.similarity import linear_cka, mutual_knn, procrustes_distance, similarities, svcca


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 16)) @ rng.normal(size=(16, 16))
    y = np.tanh(x @ rng.normal(size=(16, 10))) + 0.3 * rng.normal(size=(120, 10))
    return x, y


# ---- direct references (what the measures are defined as, on n x n matrices) -------------


def _center_gram(gram, unbiased):
    # Kornblith et al.'s reference `center_gram`
    gram = gram.copy()
    n = gram.shape[0]
    if unbiased:
        np.fill_diagonal(gram, 0)
        means = gram.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = gram.mean(0)
        means -= means.mean() / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def cka_reference(x, y, debiased=False):
    kx, ky = _center_gram(x @ x.T, debiased), _center_gram(y @ y.T, debiased)
    return (kx * ky).sum() / (np.linalg.norm(kx) * np.linalg.norm(ky))


def procrustes_reference(x, y):
    # netrep LinearMetric(alpha=1): center, zero-pad, best rotation, angular distance
    d = max(x.shape[1], y.shape[1])
    xc = np.pad(x - x.mean(0), ((0, 0), (0, d - x.shape[1])))
    yc = np.pad(y - y.mean(0), ((0, 0), (0, d - y.shape[1])))
    q, _ = orthogonal_procrustes(xc, yc)
    corr = (xc @ q * yc).sum() / (np.linalg.norm(xc) * np.linalg.norm(yc))
    return math.acos(min(1.0, corr))


def svcca_reference(x, y, keep):
    def reduce(a):
        u, s, _ = np.linalg.svd(a - a.mean(0), full_matrices=False)
        k = int(np.searchsorted(np.cumsum(s**2) / (s**2).sum(), keep - 1e-12)) + 1
        return u[:, :k] * s[:k]

    qx, _ = np.linalg.qr(reduce(x))
    qy, _ = np.linalg.qr(reduce(y))
    return np.linalg.svd(qx.T @ qy, compute_uv=False).mean()


def mutual_knn_reference(x, y, k):
    # the platonic-rep code: cosine similarities, self excluded, top k by argsort
    def knn(a):
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        sims = a @ a.T
        np.fill_diagonal(sims, -1e8)
        return np.argsort(-sims, axis=1)[:, :k]

    nx, ny = knn(x), knn(y)
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(nx, ny)])


# ---- agreement with the references -------------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_matches_gram_reference(pair, debiased):
    x, y = pair
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(cka_reference(x, y, debiased), rel=1e-10)


def test_procrustes_matches_padded_netrep_reference(pair):
    x, y = pair
    assert procrustes_distance(x, y) == pytest.approx(procrustes_reference(x, y), rel=1e-10)
    assert procrustes_distance(y, x) == pytest.approx(procrustes_reference(x, y), rel=1e-10)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99, 1.0])
def test_svcca_matches_svd_qr_reference(pair, keep):
    x, y = pair
    assert svcca(x, y, keep=keep) == pytest.approx(svcca_reference(x, y, keep), rel=1e-8)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_mutual_knn_matches_argsort_reference(pair, k):
    x, y = pair
    assert mutual_knn(x, y, k=k) == pytest.approx(mutual_knn_reference(x, y, k), abs=1e-12)


def test_chunking_does_not_change_results(pair, monkeypatch):
    x, y = pair
    whole = similarities(x, y, k=7)
    monkeypatch.setattr(similarity, "CHUNK", 17)  # 120 rows in 8 chunks, the last one short
    chunked = similarities(x, y, k=7)
    assert chunked.keys() == whole.keys() == set(similarity.MEASURES)
    for name in whole:
        assert chunked[name] == pytest.approx(whole[name], rel=1e-12, abs=1e-14)


def test_similarities_equals_each_function(pair):
    x, y = pair
    assert similarities(x, y, k=5, keep=0.9) == {
        "cka": pytest.approx(linear_cka(x, y)),
        "cka_debiased": pytest.approx(linear_cka(x, y, debiased=True)),
        "procrustes": pytest.approx(procrustes_distance(x, y)),
        "svcca": pytest.approx(svcca(x, y, keep=0.9)),
        "mutual_knn": pytest.approx(mutual_knn(x, y, k=5)),
    }
    assert list(similarities(x, y, measures=("svcca", "cka"))) == ["svcca", "cka"]


# ---- invariances and identical spaces ------------------------------------------------------


def test_identical_spaces(pair):
    x, _ = pair
    assert linear_cka(x, x) == pytest.approx(1, abs=1e-12)
    assert linear_cka(x, x, debiased=True) == pytest.approx(1, abs=1e-12)
    assert procrustes_distance(x, x) == pytest.approx(0, abs=1e-6)  # arccos(1 - eps) ~ sqrt(2 eps)
    assert svcca(x, x) == pytest.approx(1, abs=1e-10)
    assert mutual_knn(x, x) == 1.0


def test_orthogonal_transform_and_isotropic_scaling_leave_measures_unchanged(pair):
    x, y = pair
    q = ortho_group.rvs(16, random_state=1)
    xq = 3.7 * x @ q + 5.0  # rotation, isotropic scale, shift
    for measure in (linear_cka, lambda a, b: linear_cka(a, b, debiased=True), procrustes_distance, svcca):
        assert measure(xq, y) == pytest.approx(measure(x, y), rel=1e-10)
    # a rotated, rescaled copy is the same space
    assert linear_cka(xq, x) == pytest.approx(1, abs=1e-12)
    assert procrustes_distance(xq, x) == pytest.approx(0, abs=1e-6)
    # mutual_knn: cosine neighbours are invariant to rotation and rescaling (not to shifts)
    assert mutual_knn(0.01 * x @ q, y) == mutual_knn(x, y)


def test_not_invariant_to_anisotropic_scaling(pair):
    # CKA and Procrustes see anisotropic scaling (what makes them differ from CCA)
    x, y = pair
    stretched = x * np.linspace(0.1, 10, x.shape[1])
    assert abs(linear_cka(stretched, y) - linear_cka(x, y)) > 1e-3
    assert abs(procrustes_distance(stretched, x)) > 1e-2
    assert svcca(stretched, x, keep=1.0) == pytest.approx(1, abs=1e-8)  # CCA: any invertible map


def test_unrelated_spaces_score_low():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    assert linear_cka(x, y, debiased=True) == pytest.approx(0, abs=0.01)
    assert linear_cka(x, y) < 0.02
    assert procrustes_distance(x, y) > 1.4  # close to pi/2
    assert mutual_knn(x, y) < 0.02


def test_torch_and_float32_inputs(pair):
    x, y = pair
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).float()
    got = similarities(xt, yt)
    want = similarities(x, y)
    for name in want:
        assert isinstance(got[name], float)
        assert got[name] == pytest.approx(want[name], rel=1e-4, abs=1e-5)


# ---- errors --------------------------------------------------------------------------------


FUNCTIONS = [linear_cka, procrustes_distance, svcca, mutual_knn, similarities]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_errors(fn, pair):
    x, y = pair
    with pytest.raises(ValueError, match=r"same number of rows.*\(120, 16\).*\(119, 10\)"):
        fn(x, y[:119])
    with pytest.raises(ValueError, match=r"x must be 2-D.*got shape \(120,\)"):
        fn(x[:, 0], y)
    with pytest.raises(TypeError, match=r"y must hold floating-point values.*int64"):
        fn(x, y.astype(np.int64))
    bad = y.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or inf in 1 entries \(rows \[4\]\)"):
        fn(x, bad)
    with pytest.raises(ValueError, match=r"at least 2 rows"):
        fn(x[:1], y[:1])


def test_parameter_errors(pair):
    x, y = pair
    with pytest.raises(ValueError, match=r"k must be an int in \[1, n - 1\] = \[1, 119\].*got 120"):
        mutual_knn(x, y, k=120)
    with pytest.raises(ValueError, match=r"k must be.*got 0"):
        mutual_knn(x, y, k=0)
    for keep in (0, 1.5, True):
        with pytest.raises(ValueError, match=r"keep must be a fraction"):
            svcca(x, y, keep=keep)
    with pytest.raises(ValueError, match=r"at least 4 rows"):
        linear_cka(x[:3], y[:3], debiased=True)
    with pytest.raises(ValueError, match=r"unknown measure\(s\) \['cca'\]"):
        similarities(x, y, measures=("cca",))
    constant = np.ones((10, 3))
    for fn in (linear_cka, procrustes_distance, svcca):
        with pytest.raises(ValueError, match=r"no variance"):
            fn(constant, y[:10])


@pytest.mark.slow
def test_runs_at_10000_by_1280():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10_000, 1280, generator=g)
    y = x[:, :768] + 0.5 * torch.randn(10_000, 768, generator=g)
    out = similarities(x, y)
    assert 0 < out["cka"] < 1 and 0 < out["mutual_knn"] < 1 and 0 < out["procrustes"] < math.pi / 2
