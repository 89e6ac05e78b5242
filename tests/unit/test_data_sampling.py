"""Seeded sampling: permutations, stratified splits and subsets, anchors (the "forever" contract)."""

import numpy as np
import pytest

from latentstitch.data import (
    Dataset,
    Split,
    random_order,
    sample_anchors,
    stratified_indices,
    stratified_split,
)
from latentstitch.data.sampling import _allocate


def test_random_order_is_a_seeded_permutation():
    order = random_order(1000, 3)
    assert np.array_equal(np.sort(order), np.arange(1000))
    assert np.array_equal(order, random_order(1000, 3))
    assert not np.array_equal(order, random_order(1000, 4))
    assert not np.array_equal(order, random_order(1000, (3, 1)))


def test_sampling_is_fixed_forever():
    # Computed once with the PCG64 raw stream; a change here breaks every stored anchor set.
    assert random_order(10, 0).tolist() == [3, 2, 1, 8, 6, 0, 7, 4, 5, 9]
    assert sample_anchors(60000, 8, 0).tolist() == [16026, 20554, 25556, 38162, 47310, 53924, 55372, 57691]
    assert sample_anchors(1000, 5, 42).tolist() == [646, 740, 743, 810, 997]
    labels = np.repeat(np.arange(3), [50, 30, 20])
    assert sample_anchors(labels, 10, 7, stratified=True).tolist() == [6, 23, 24, 32, 37, 52, 67, 74, 96, 98]


def test_uniform_anchors_are_uniform_over_indices():
    size, n, draws = 20, 5, 2000
    counts = np.zeros(size)
    for seed in range(draws):
        counts[sample_anchors(size, n, seed)] += 1
    expected = draws * n / size  # 500, binomial sd ~19
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected * (1 - n / size)))


def test_uniform_anchors_are_sorted_distinct_and_nested():
    small, large = sample_anchors(5000, 100, 11), sample_anchors(5000, 1000, 11)
    assert np.all(np.diff(large) > 0) and large.dtype == np.int64
    assert np.isin(small, large).all()
    assert len(sample_anchors(5000, 5000, 11)) == 5000


def test_anchors_from_dataset_labels_and_size_agree():
    labels = np.arange(300) % 3
    data = Dataset("toy", "text", Split(["x"] * 300, labels), Split(["y"] * 3, np.arange(3)), ["a", "b", "c"])
    assert np.array_equal(sample_anchors(data, 30, 1), sample_anchors(300, 30, 1))
    assert np.array_equal(sample_anchors(data, 30, 1, stratified=True), sample_anchors(labels, 30, 1, stratified=True))


def test_stratified_anchors_follow_class_proportions():
    labels = np.repeat(np.array([2, 0, 1]), [500, 300, 200])
    anchors = sample_anchors(labels, 10, 5, stratified=True)
    assert np.bincount(labels[anchors]).tolist() == [3, 2, 5]


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((100, 0, 0), {}, ValueError, "need 1 <= n <= 100"),
        ((100, 101, 0), {}, ValueError, "need 1 <= n <= 100"),
        ((100, 5, 0), {"stratified": True}, ValueError, "need labels"),
        ((100, 5, -1), {}, TypeError, "non-negative int"),
        ((100, 5.0, 0), {}, TypeError, "n must be an int"),
        ((np.zeros((4, 2)), 1, 0), {}, ValueError, "1-D"),
        (("abc", 1, 0), {}, TypeError, "expected a Dataset"),
    ],
)
def test_sample_anchors_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_anchors(*args, **kwargs)


def test_allocate_matches_proportional_quotas():
    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = rng.integers(1, 50, size=rng.integers(1, 8))
        total = int(rng.integers(1, counts.sum() + 1))
        alloc = _allocate(counts, total)
        quotas = counts * total / counts.sum()
        assert alloc.sum() == total
        assert np.all(alloc <= counts)
        assert np.all(np.abs(alloc - quotas) < 1)


def test_stratified_split_partitions_and_stratifies():
    labels = np.repeat(np.arange(4), [100, 40, 37, 23])
    train, test = stratified_split(labels, 0.25, 9)
    assert len(test) == 50 and len(train) == 150
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(200))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.all(np.abs(np.bincount(labels[test]) - 0.25 * np.bincount(labels)) < 1)
    again = stratified_split(labels, 0.25, 9)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.2", True])
def test_stratified_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(np.arange(10) % 2, fraction, 0)


def test_stratified_split_needs_items_on_both_sides():
    with pytest.raises(ValueError, match="both splits"):
        stratified_split(np.zeros(3), 0.1, 0)


def test_stratified_indices_draws_each_class_uniformly():
    labels = np.repeat([0, 1], [10, 30])
    hits = np.zeros(40)
    for seed in range(1000):
        hits[stratified_indices(labels, 4, seed)] += 1
    # one item of class 0 (of 10) and three of class 1 (of 30) per draw: rate 0.1 everywhere
    assert np.all(np.abs(hits / 1000 - 0.1) < 0.05)


# ---- anchor strategies beyond the paper's uniform draw -------------------------------------


def _clustered(size=600, d=8, clusters=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d)) * 10
    labels = np.arange(size) % clusters
    return centres[labels] + rng.normal(size=(size, d)), labels


@pytest.mark.parametrize("strategy", ["uniform", "stratified", "class_balanced", "kmeans", "farthest_point"])
@pytest.mark.parametrize("n", [1, 7, 60, 600])
def test_every_strategy_is_seeded_and_gives_distinct_valid_indices(strategy, n):
    x, labels = _clustered()
    kwargs = {"strategy": strategy, "encodings": x}
    first = sample_anchors(labels, n, 3, **kwargs)
    assert first.dtype == np.int64 and len(first) == n
    assert np.all(np.diff(first) > 0) and first.min() >= 0 and first.max() < len(labels)
    assert np.array_equal(first, sample_anchors(labels, n, 3, **kwargs))
    if 1 < n < 600 and strategy != "kmeans":  # k-means with many centres is nearly seed-free
        assert not np.array_equal(first, sample_anchors(labels, n, 4, **kwargs))


def test_kmeans_and_farthest_point_cover_every_cluster():
    """Six well-separated clusters: six anchors land one per cluster (uniform often misses one)."""
    x, labels = _clustered()
    for strategy in ("kmeans", "farthest_point"):
        for seed in range(5):
            anchors = sample_anchors(labels, 6, seed, strategy=strategy, encodings=x)
            assert sorted(labels[anchors].tolist()) == list(range(6)), (strategy, seed)
    misses = sum(len(set(labels[sample_anchors(labels, 6, s)])) < 6 for s in range(20))
    assert misses > 0


def test_kmeans_anchor_is_the_member_nearest_each_centre():
    from sklearn.cluster import KMeans

    from latentstitch.data.sampling import _int_seed

    x, labels = _clustered(size=200)
    anchors = sample_anchors(labels, 6, 2, strategy="kmeans", encodings=x)
    km = KMeans(n_clusters=6, n_init=1, max_iter=100, random_state=_int_seed(2)).fit(x)
    oracle = [
        np.flatnonzero(km.labels_ == c)[np.argmin(((x[km.labels_ == c] - m) ** 2).sum(1))]
        for c, m in enumerate(km.cluster_centers_)
    ]
    assert anchors.tolist() == sorted(oracle)


def test_farthest_point_is_greedy():
    x = np.array([[0.0], [1.0], [10.0], [4.0], [6.0]])
    anchors = sample_anchors(5, 3, 0, strategy="farthest_point", encodings=x)
    first = int(random_order(5, 0)[0])
    chosen = [first]
    for _ in range(2):
        dist = np.min(np.abs(x[:, 0][:, None] - x[chosen, 0][None, :]), axis=1)
        chosen.append(int(np.argmax(dist)))
    assert anchors.tolist() == sorted(chosen)


def test_class_balanced_gives_equal_shares_and_fills_from_larger_classes():
    labels = np.repeat(np.arange(3), [500, 300, 4])
    counts = np.bincount(labels[sample_anchors(labels, 30, 1, strategy="class_balanced")], minlength=3)
    assert counts.tolist() == [13, 13, 4]  # the small class gives its unused share away
    counts = np.bincount(labels[sample_anchors(labels, 10, 1, strategy="class_balanced")], minlength=3)
    assert sorted(counts.tolist()) == [3, 3, 4] and counts[2] <= 4


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((100, 5, 0), {"strategy": "random"}, "unknown anchor strategy 'random'"),
        ((100, 5, 0), {"strategy": "class_balanced"}, "need labels"),
        ((100, 5, 0), {"strategy": "kmeans"}, "need encodings"),
        ((100, 5, 0), {"strategy": "kmeans", "encodings": np.zeros((99, 3))}, r"shape \(100, d\)"),
        ((100, 5, 0), {"strategy": "farthest_point", "encodings": np.full((100, 3), np.nan)}, "NaN"),
        ((100, 5, 0), {"strategy": "farthest_point", "encodings": np.zeros((100, 3), dtype=int)}, "floating"),
        ((np.arange(100) % 2, 5, 0), {"strategy": "kmeans", "stratified": True}, "cannot be combined"),
    ],
)
def test_anchor_strategy_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_anchors(*args, **kwargs)
