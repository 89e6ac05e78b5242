"""Seeded index sampling: train/test splits, stratified subsets and anchor sets.

Every draw orders items by raw 64-bit outputs of NumPy's PCG64 bit generator (the generator
behind `np.random.default_rng`) with a stable sort. NumPy keeps the PCG64 bit stream and its
SeedSequence seeding fixed across releases, but not the algorithms of `Generator` methods such
as `permutation` or `choice`; building on the raw stream is what makes "same (size, n, seed),
same indices" hold forever.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from latentstitch.data.base import Dataset, Split

Seed = Union[int, Sequence[int]]


def _check_seed(seed: Seed) -> Seed:
    parts = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, (int, np.integer)) or part < 0:
            raise TypeError(f"seed must be a non-negative int or a tuple of them, got {seed!r}")
    return tuple(int(p) for p in parts) if isinstance(seed, (list, tuple)) else int(seed)


def random_order(size: int, seed: Seed) -> np.ndarray:
    """A uniformly random permutation of ``range(size)``, fixed forever by ``(size, seed)``.

    Items are sorted by i.i.d. uniform 64-bit keys (``PCG64(seed).random_raw(size)``); the
    stable sort settles the (probability ~size**2 / 2**65) ties by position.
    """
    seed = _check_seed(seed)
    keys = np.random.PCG64(seed).random_raw(size)
    return np.argsort(keys, kind="stable")


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainders win).

    Integer arithmetic throughout, so the allocation does not depend on floating point; ties
    in the remainder go to the lower class id. No class gets more than it has.
    """
    size = int(counts.sum())
    base, remainder = np.divmod(counts * total, size)
    extra = total - int(base.sum())
    order = np.argsort(-remainder, kind="stable")
    base[order[:extra]] += 1
    return base


def stratified_indices(labels: np.ndarray, n: int, seed: Seed) -> np.ndarray:
    """Sorted indices of ``n`` items drawn without replacement, stratified by ``labels``.

    Each class gets its share of ``n`` (largest-remainder rounding of
    ``n * count / len(labels)``) and within a class the items are uniform.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if not 1 <= n <= len(labels):
        raise ValueError(f"cannot draw n={n} items from {len(labels)}; need 1 <= n <= {len(labels)}")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    per_class = _allocate(counts.astype(np.int64), n)
    order = random_order(len(labels), seed)
    ordered_class = inverse[order]
    chosen = [order[ordered_class == c][:k] for c, k in enumerate(per_class) if k > 0]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: Seed) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, test) indices, each sorted, for data without an official test split.

    The test split has ``round(test_fraction * len(labels))`` items, allocated over classes as
    in :func:`stratified_indices`; the train split is the rest.
    """
    is_number = isinstance(test_fraction, (int, float)) and not isinstance(test_fraction, bool)
    if not is_number or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    size = len(labels)
    n_test = int(round(test_fraction * size))
    if not 1 <= n_test <= size - 1:
        raise ValueError(
            f"test_fraction={test_fraction} of {size} items gives a test split of {n_test}; "
            "both splits need at least one item"
        )
    test = stratified_indices(labels, n_test, seed)
    train = np.setdiff1d(np.arange(size, dtype=np.int64), test, assume_unique=True)
    return train, test


def take(inputs, indices: np.ndarray):
    """The items of ``inputs`` (an image array, a list of texts, or lazy images) at ``indices``."""
    if isinstance(inputs, np.ndarray):
        return inputs[indices]
    if hasattr(inputs, "subset"):
        return inputs.subset(indices)
    return [inputs[i] for i in indices]


def take_split(split: Split, indices: np.ndarray) -> Split:
    ids = None if split.ids is None else np.asarray(split.ids)[indices]
    return Split(inputs=take(split.inputs, indices), labels=split.labels[indices], ids=ids)


ANCHOR_STRATEGIES = ("uniform", "stratified", "class_balanced", "kmeans", "farthest_point")


def sample_anchors(
    dataset_or_labels_or_n: Union[Dataset, np.ndarray, Sequence[int], int],
    n: int,
    seed: Seed,
    *,
    stratified: bool = False,
    strategy: str = "uniform",
    encodings: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of ``n`` anchors in the train split, sorted, the same for (data, n, seed, strategy).

    ``strategy`` (``ANCHOR_STRATEGIES``):

    - ``"uniform"``: without replacement over the train split, as in the paper (Section 4:
      "parallel anchors, uniformly chosen"); ``stratified=True`` is ``"stratified"``. Uniform
      draws are nested: for a fixed seed the anchors for ``n`` are a subset of those for any
      larger ``n``, so anchor-count sweeps add anchors rather than redraw them.
    - ``"stratified"``: each class gets its proportional share (needs labels).
    - ``"class_balanced"``: each class gets an equal share, ``n // classes`` (the remainder to
      classes in a seeded order); a class with fewer items gives its unused share to the
      others (needs labels). Uniform within a class.
    - ``"kmeans"`` (beyond the paper): k-means with ``n`` centres on ``encodings`` (one
      space's train encodings, (train size, d): in practice one chooses which samples to pair
      by looking at one model), seeded k-means++ start, Lloyd iterations; the anchor of each
      cluster is its member nearest the centre (an empty cluster: the nearest sample not
      already chosen).
    - ``"farthest_point"`` (beyond the paper): a seeded uniform first anchor, then greedily
      the sample farthest (Euclidean) from the anchors chosen so far, on ``encodings``.

    Beyond ``uniform`` and ``stratified``, draws are not nested and are fixed for a given
    NumPy / scikit-learn, not forever. The first argument is a :class:`Dataset` (its train
    split is used), the train labels, or, for strategies without labels, the train size.

    Raises ValueError if ``n`` is not in ``[1, train size]``, for an unknown strategy, for a
    label strategy given only a size, or ``encodings`` missing or not (train size, d) and finite
    for ``kmeans`` / ``farthest_point``.
    """
    source = dataset_or_labels_or_n
    labels = None
    if isinstance(source, Dataset):
        labels = np.asarray(source.train.labels)
    elif isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        size = int(source)
    elif isinstance(source, (np.ndarray, list, tuple)):
        labels = np.asarray(source)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    else:
        raise TypeError(f"expected a Dataset, a 1-D label array or a train size, got {type(source).__name__}")
    if labels is not None:
        size = len(labels)
    if size < 1:
        raise ValueError(f"train size must be >= 1, got {size}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {n!r}")
    if not 1 <= n <= size:
        raise ValueError(f"cannot sample n={n} anchors from a train split of {size}; need 1 <= n <= {size}")
    if strategy not in ANCHOR_STRATEGIES:
        raise ValueError(f"unknown anchor strategy {strategy!r}; valid: {', '.join(ANCHOR_STRATEGIES)}")
    if stratified:
        if strategy not in ("uniform", "stratified"):
            raise ValueError(f"stratified=True is the 'stratified' strategy; it cannot be combined with {strategy!r}")
        strategy = "stratified"
    seed = _check_seed(seed)
    n = int(n)
    if strategy in ("stratified", "class_balanced"):
        if labels is None:
            raise ValueError(f"{strategy} anchors need labels: pass the Dataset or the train labels, not a size")
        if strategy == "stratified":
            return stratified_indices(labels, n, seed)
        return _class_balanced(labels, n, seed)
    if strategy in ("kmeans", "farthest_point"):
        x = _check_encodings(encodings, size, strategy)
        chosen = _kmeans_anchors(x, n, seed) if strategy == "kmeans" else _farthest_point(x, n, seed)
        return np.sort(chosen).astype(np.int64)
    return np.sort(random_order(size, seed)[:n]).astype(np.int64)


def _check_encodings(encodings, size: int, strategy: str) -> np.ndarray:
    if encodings is None:
        raise ValueError(f"{strategy} anchors need encodings=(train size, d) of one space's train split")
    x = np.asarray(encodings)
    if x.ndim != 2 or x.shape[0] != size:
        raise ValueError(f"{strategy} anchors need encodings of shape ({size}, d) (the train split), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{strategy} anchors need floating-point encodings, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"{strategy} anchors: encodings contain NaN or inf")
    return x.astype(np.float64)


def _int_seed(seed: Seed) -> int:
    """A 32-bit seed for libraries that take one, derived from the PCG64 stream of ``seed``."""
    return int(np.random.PCG64(seed).random_raw() % (2**32))


def _class_balanced(labels: np.ndarray, n: int, seed: Seed) -> np.ndarray:
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = np.zeros(len(classes), dtype=np.int64)
    left = n
    # Water-filling: equal shares among the classes that still have items, until fewer items
    # are left than such classes; those go one each to classes in a seeded order.
    while left > 0:
        active = np.flatnonzero(quota < counts)
        share = left // len(active)
        if share == 0:
            for c in random_order(len(classes), _sub_seed(seed)):
                if left and quota[c] < counts[c]:
                    quota[c] += 1
                    left -= 1
            break
        add = np.minimum(share, counts[active] - quota[active])
        quota[active] += add
        left -= int(add.sum())
    order = random_order(len(labels), seed)
    ordered_class = inverse[order]
    chosen = [order[ordered_class == c][:k] for c, k in enumerate(quota) if k > 0]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _sub_seed(seed: Seed) -> tuple[int, ...]:
    """A seed independent of ``seed``'s own stream (for a second draw from the same seed)."""
    parts = list(seed) if isinstance(seed, tuple) else [seed]
    return (*parts, 1)


def _kmeans_anchors(x: np.ndarray, n: int, seed: Seed, max_iter: int = 100) -> np.ndarray:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n, n_init=1, max_iter=max_iter, random_state=_int_seed(seed)).fit(x)
    centres, assigned = km.cluster_centers_, km.labels_
    chosen = np.full(n, -1, dtype=np.int64)
    for c in range(n):
        members = np.flatnonzero(assigned == c)
        if len(members):
            chosen[c] = members[np.argmin(((x[members] - centres[c]) ** 2).sum(axis=1))]
    taken = np.zeros(len(x), dtype=bool)
    taken[chosen[chosen >= 0]] = True
    for c in np.flatnonzero(chosen < 0):
        dist = ((x - centres[c]) ** 2).sum(axis=1)
        dist[taken] = np.inf
        chosen[c] = int(np.argmin(dist))
        taken[chosen[c]] = True
    return chosen


def _farthest_point(x: np.ndarray, n: int, seed: Seed) -> np.ndarray:
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = random_order(len(x), seed)[0]
    sq_norms = (x**2).sum(axis=1)
    dist = np.full(len(x), np.inf)
    for i in range(1, n):
        last = chosen[i - 1]
        dist = np.minimum(dist, sq_norms - 2 * x @ x[last] + sq_norms[last])
        dist[chosen[:i]] = -np.inf  # never pick an anchor twice (duplicates sit at distance 0)
        chosen[i] = int(np.argmax(dist))
    return chosen
