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
