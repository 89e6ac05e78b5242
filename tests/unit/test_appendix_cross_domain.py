"""Cross-domain stitching (Figure 7) on small synthetic encodings of real digits: two "encoders"
(random projections of the pixels), each on the digits and on their negatives."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from latentstitch.appendix.cross_domain import (
    PAIR_KINDS,
    claim,
    cross_domain_stitching,
    pair_kind,
    plot,
    space_name,
    summarize,
)
from latentstitch.stitching import Space, StitchSettings

N_TRAIN, N_TEST = 600, 200


@pytest.fixture(scope="module")
def spaces():
    data = load_digits()
    pixels, y = data.data.astype(np.float64), data.target.astype(np.int64)
    negative = 16.0 - pixels  # the second domain: a photographic negative
    rng = np.random.default_rng(0)
    out = []
    for encoder, dim in (("a", 24), ("b", 20)):
        w = rng.normal(size=(64, dim)) / 8
        for domain, images in (("original", pixels), ("invert", negative)):
            z = (images @ w).astype(np.float32)
            out.append(Space(space_name(encoder, domain), z[:N_TRAIN], z[N_TRAIN : N_TRAIN + N_TEST]))
    return out, y[:N_TRAIN], y[N_TRAIN : N_TRAIN + N_TEST]


def test_every_pair_is_stitched_and_ortho_undoes_the_negative(spaces):
    """A linear encoder of the negative is an affine map of the original's encodings with
    matrix -I: standard scaling turns it into exactly -I, which ortho recovers, so the
    translated test set is the target's own and the stitched accuracy is its no-stitch one."""
    spaces, y_train, y_test = spaces
    settings = StitchSettings(methods=["absolute", "ortho"], scalings=["standard"], anchor_counts=[200], seeds=[0, 1])
    table = cross_domain_stitching(spaces, y_train, y_test, {"kind": "linear_svm", "C": 1.0}, settings, seed=0)
    assert set(table["decoder"]) == {"linear_svm"}
    stitched = table[table["method"] != "no-stitch"]
    assert set(stitched["pair_kind"]) == set(PAIR_KINDS)
    acc = table[table["metric"] == "accuracy"]
    no_stitch = acc[acc["method"] == "no-stitch"].set_index("target")["value"]
    assert len(no_stitch) == 4 and (no_stitch > 0.7).all()
    ortho = acc[(acc["method"] == "ortho") & (acc["source"] == "a@original") & (acc["target"] == "a@invert")]
    assert len(ortho) == 2  # two seeds
    np.testing.assert_allclose(ortho["value"], no_stitch["a@invert"], atol=1 / N_TEST)
    # 4 spaces: 12 ordered pairs; absolute only between equal dims (same encoder), once
    absolute = acc[acc["method"] == "absolute"]
    assert len(absolute) == 4 and set(absolute["pair_kind"]) == {PAIR_KINDS[0]}
    assert len(acc[acc["method"] == "ortho"]) == 12 * 2

    cells = summarize(table)
    assert {"pair_kind", "method", "scaling", "mean", "std", "n"} <= set(cells.columns)
    # a 20-d and a 24-d random projection of the pixels are no isometry of each other: the
    # cross-encoder pairs pull the cross-domain mean well below no-stitch, and the claim fails
    verdict = claim(table, tolerance=0.05)
    assert verdict["details"]["cross_domain_pairs"] == 8 and "over 8 cross-domain pairs" in verdict["line"]
    assert verdict["details"]["best_accuracy"] < verdict["details"]["no_stitch_accuracy"] - 0.05
    assert not verdict["holds"] and "best translation ortho" in verdict["line"]


def test_claim_holds_where_ortho_is_exact(spaces, tmp_path):
    """Encoder a alone: both pairs are a domain swap that ortho undoes exactly."""
    spaces, y_train, y_test = spaces
    settings = StitchSettings(methods=["absolute", "ortho"], scalings=["standard"], anchor_counts=[100], seeds=[0])
    table = cross_domain_stitching(spaces[:2], y_train, y_test, {"kind": "linear_svm"}, settings, seed=0)
    assert set(table.loc[table["method"] != "no-stitch", "pair_kind"]) == {PAIR_KINDS[0]}
    verdict = claim(table, tolerance=0.05)
    details = verdict["details"]
    assert verdict["holds"] and details["cross_domain_pairs"] == 2
    assert details["best_accuracy"] == pytest.approx(details["no_stitch_accuracy"], abs=1 / N_TEST)
    assert details["absolute_accuracy"] < 0.5
    plot(table, tmp_path / "f.png", title="t")
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_pair_kinds_and_errors(spaces):
    assert pair_kind("a@original", "a@invert") == PAIR_KINDS[0]
    assert pair_kind("a@original", "b@invert") == PAIR_KINDS[1]
    assert pair_kind("a@invert", "b@invert") == PAIR_KINDS[2]
    spaces, y_train, y_test = spaces
    settings = StitchSettings(methods=["ortho"], anchor_counts=[50])
    with pytest.raises(ValueError, match="at least 2 spaces"):
        cross_domain_stitching(spaces[:1], y_train, y_test, {"kind": "linear_svm"}, settings, seed=0)
    with pytest.raises(ValueError, match="encoder@domain"):
        cross_domain_stitching(
            [Space("a", spaces[0].train, spaces[0].test), spaces[1]],
            y_train,
            y_test,
            {"kind": "linear_svm"},
            settings,
            seed=0,
        )
    with pytest.raises(ValueError, match="600 train / 200 test rows, the labels 10 / 200"):
        cross_domain_stitching(spaces, y_train[:10], y_test, {"kind": "linear_svm"}, settings, seed=0)
