"""The synthetic walk-through (Figure 2): exact recovery of a known rotation, the steps against
Translator.transform, the toy spaces' construction, and the claim."""

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from latentstitch.appendix.walkthrough import STEPS, claim, plot, toy_spaces, walkthrough, walkthrough_steps
from latentstitch.translate import Translator


def _whitened(n: int, d: int, seed: int) -> np.ndarray:
    """n points whose sample covariance (ddof=1, the scaling's) is exactly the identity."""
    x = np.random.default_rng(seed).normal(size=(n, d))
    x -= x.mean(axis=0)
    cov = x.T @ x / (n - 1)
    evals, evecs = np.linalg.eigh(cov)
    return x @ evecs @ np.diag(evals**-0.5) @ evecs.T + 5.0


def test_ortho_recovers_a_pure_rotation_exactly():
    """Standard scaling of whitened points is the identity up to centring and a rotation keeps
    them whitened, so ortho's steps must reproduce the rotated points exactly."""
    # anchors whitened; 40 more points anywhere, which the fitted map must also carry exactly
    x = np.vstack([_whitened(60, 3, seed=0), np.random.default_rng(2).normal(3.0, 2.0, size=(40, 3))])
    rotation = special_ortho_group.rvs(3, random_state=1)
    y = x @ rotation
    steps = walkthrough_steps(x, y, np.arange(60), "ortho")
    np.testing.assert_allclose(steps["de-normalization"], y, atol=1e-10)
    np.testing.assert_allclose(steps["estimated T"], steps["target scaled"], atol=1e-10)


def test_steps_compose_to_the_translator():
    toy = toy_spaces(80, scale=2.0, distortion=0.3, seed=3)
    anchors = np.arange(0, 80, 2)
    steps = walkthrough_steps(toy.source, toy.target, anchors, "ortho")
    assert list(steps)[: len(STEPS)] == list(STEPS)
    assert steps["source"].shape == (80, 2) and steps["standard scaling"].shape == (80, 2)
    assert steps["padding"].shape == (80, 3) and np.all(steps["padding"][:, 2] == 0)
    np.testing.assert_allclose(steps["padding"][:, :2], steps["standard scaling"])
    expected = Translator("ortho", "standard").fit(toy.source[anchors], toy.target[anchors]).transform(toy.source)
    np.testing.assert_allclose(steps["de-normalization"], expected, rtol=1e-9, atol=1e-9)
    # standard scaling uses the anchors' statistics (ddof=1)
    sx = toy.source[anchors]
    np.testing.assert_allclose(steps["standard scaling"], (toy.source - sx.mean(0)) / sx.std(0, ddof=1), rtol=1e-9)


def test_toy_target_is_a_similarity_of_the_padded_source_without_distortion():
    toy = toy_spaces(50, scale=3.0, distortion=0.0, seed=0)
    np.testing.assert_allclose(toy.rotation @ toy.rotation.T, np.eye(3), atol=1e-12)
    padded = np.hstack([toy.source, np.zeros((50, 1))])
    np.testing.assert_allclose(toy.target, 3.0 * padded @ toy.rotation + toy.shift, rtol=1e-12)
    bent = toy_spaces(50, scale=3.0, distortion=0.5, seed=0)
    np.testing.assert_array_equal(bent.source, toy.source)  # same points, only the bend differs
    assert not np.allclose(bent.target, toy.target)


def test_walkthrough_errors_and_claim(tmp_path):
    toy, steps, errors = walkthrough(
        150,
        50,
        scale=3.0,
        distortion=0.2,
        methods=["ortho", "affine"],
        seed=0,
        translator_kwargs={"affine_steps": 1000, "affine_lr": 1e-2},
    )
    assert list(errors["method"]) == ["ortho", "affine"] and set(steps) == {"ortho", "affine"}
    # affine can represent the undistorted (affine) target: its error there is ~0
    assert errors.set_index("method").loc["affine", "relative_error_without_distortion"] < 1e-2
    # ortho is not exact even without the distortion: standard scaling stretches the axes of the
    # 3-D target (a rotated plane) unequally, which no rotation undoes
    assert errors.set_index("method").loc["ortho", "relative_error_without_distortion"] > 0.1
    verdict = claim(errors, tolerance=0.01)
    assert not verdict["holds"] and verdict["details"]["failing"] == ["ortho"]
    assert verdict["line"].endswith("fails for ortho") and "affine" in verdict["line"]
    affine = errors[errors["method"] == "affine"]
    assert claim(affine, tolerance=0.01)["holds"]
    plot(toy, steps, tmp_path / "f.png", title="t")
    assert (tmp_path / "f.png").stat().st_size > 1000
    # worse than the mean predictor fails the claim
    worse = affine.assign(relative_error=1.5)
    assert not claim(worse, tolerance=0.01)["holds"]


def test_errors():
    with pytest.raises(ValueError, match="anchors must be in"):
        walkthrough(10, 10, scale=1.0, distortion=0.0, methods=["ortho"], seed=0)
    with pytest.raises(ValueError, match="must not exceed the target's"):
        walkthrough_steps(np.zeros((5, 3)), np.zeros((5, 2)), np.arange(5), "ortho")
    with pytest.raises(ValueError, match="distortion must be >= 0"):
        toy_spaces(10, scale=1.0, distortion=-1.0, seed=0)
    with pytest.raises(ValueError, match="scale must be positive"):
        toy_spaces(10, scale=0.0, distortion=0.0, seed=0)
