"""Input rescaling of MLP heads (Figure 13) and the shared alpha grid / invariance threshold."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from sklearn.datasets import load_digits

from latentstitch.appendix.invariance import alpha_grid, invariance_threshold
from latentstitch.appendix.mlp_scaling import (
    MLPScaling,
    accuracy_vs_scale,
    claim,
    mean_norm,
    mlp_scaling,
    oscillations,
    plot,
    unit_rescaled,
)
from latentstitch.config import load_group_config
from latentstitch.decoders import MLP


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def test_unit_rescaled_rows_have_norm_alpha_and_keep_direction():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    z = unit_rescaled(x, 5.0)
    np.testing.assert_allclose(z, [[3.0, 4.0], [0.0, 0.0], [-5.0, 0.0]], rtol=1e-6)
    assert z.dtype == np.float32
    assert mean_norm(x) == pytest.approx(2.0)


def test_bias_free_relu_mlp_is_positively_homogeneous():
    """f(alpha x) = alpha f(x) for a ReLU MLP without biases; with alpha a power of two every
    product and sum scales exactly, so the logits scale bit for bit and the argmax never moves."""
    torch.manual_seed(0)
    net = MLP(16, 5, (32, 8), "relu").eval()
    with torch.no_grad():
        for layer in net.layers:
            if isinstance(layer, torch.nn.Linear):
                layer.bias.zero_()
    x = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 5, size=200)
    alphas = [2.0**k for k in range(-8, 9, 2)]

    def predict(z):
        with torch.no_grad():
            return net(torch.from_numpy(z)).argmax(dim=1).numpy()

    accuracy = accuracy_vs_scale(predict, x, y, alphas)
    assert accuracy.shape == (len(alphas),)
    assert np.all(accuracy == accuracy[0])
    with torch.no_grad():
        base = net(torch.from_numpy(unit_rescaled(x, 1.0)))
        for alpha in alphas:
            assert torch.equal(net(torch.from_numpy(unit_rescaled(x, 1.0) * np.float32(alpha))), base * alpha)
    # with biases the network is not homogeneous: the same sweep moves
    with torch.no_grad():
        for layer in net.layers:
            if isinstance(layer, torch.nn.Linear):
                layer.bias.fill_(0.5)
    assert len(set(accuracy_vs_scale(predict, x, y, [1e-3, 1.0, 1e3]))) > 1


def test_mlp_scaling_sweep_shapes(digits):
    train, test = digits
    head_cfg = {
        **OmegaConf.to_container(load_group_config("head", "mlp")),
        "hidden_dims": [32, 16],
        "max_epochs": 5,
        "lr": 1e-2,
    }
    alphas = alpha_grid({"min": 0.1, "max": 10.0, "num": 5}, extra=[mean_norm(train[0])])
    result = mlp_scaling(train, test, ["relu", "tanh", "cos"], alphas, head_cfg, seed=0, accelerator="cpu")
    assert list(result.accuracy) == ["relu", "tanh", "cos"]
    assert all(acc.shape == (6,) and np.all((acc >= 0) & (acc <= 1)) for acc in result.accuracy.values())
    assert result.train_mean_norm == pytest.approx(mean_norm(train[0]))
    assert result.reference["relu"] > 0.5 and all(1 <= e <= 5 for e in result.epochs.values())
    table = result.table()
    assert len(table) == 18 and set(table["activation"]) == {"relu", "tanh", "cos"}
    with pytest.raises(ValueError, match="head kind must be 'mlp'"):
        mlp_scaling(train, test, ["relu"], alphas, {"kind": "svm"}, seed=0)


def test_alpha_grid_and_threshold():
    grid = alpha_grid({"min": 0.01, "max": 100, "num": 5}, extra=[3.0, 1.0])
    np.testing.assert_allclose(grid, [0.01, 0.1, 1.0, 3.0, 10.0, 100.0])
    with pytest.raises(ValueError, match="missing \\['num'\\]"):
        alpha_grid({"min": 0.01, "max": 100})
    with pytest.raises(ValueError, match="0 < min < max"):
        alpha_grid({"min": 1, "max": 0.1, "num": 3})
    alphas = [0.1, 1.0, 10.0, 100.0]
    assert invariance_threshold(alphas, [0.1, 0.8, 0.9, 0.91], 0.9, 0.02) == 10.0
    assert invariance_threshold(alphas, [0.9, 0.7, 0.9, 0.9], 0.9, 0.02) == 10.0
    assert invariance_threshold(alphas, [0.9, 0.9, 0.9, 0.9], 0.9, 0.02) == 0.1
    assert invariance_threshold(alphas, [0.9, 0.9, 0.9, 0.5], 0.9, 0.02) is None
    with pytest.raises(ValueError, match="strictly ascending"):
        invariance_threshold([1.0, 0.1], [0.9, 0.9], 0.9, 0.02)


def test_oscillations_count_prominent_peaks():
    assert oscillations([0.1, 0.9, 0.1, 0.8, 0.1], prominence=0.1) == 2
    # a curve's maximum is always one peak (also at an end of the grid): 1 means no oscillation
    assert oscillations([0.1, 0.5, 0.9, 0.9], prominence=0.1) == 1
    assert oscillations([0.5, 0.52, 0.5, 0.51], prominence=0.1) == 1


def test_claim_from_the_curves(tmp_path):
    alphas = np.array([0.1, 1.0, 10.0, 20.0, 40.0, 100.0])
    flat = np.array([0.2, 0.8, 0.85, 0.85, 0.85, 0.85])
    cycles = np.array([0.1, 0.1, 0.5, 0.86, 0.2, 0.6])
    result = MLPScaling(
        alphas,
        {"relu": flat, "tanh": flat, "cos": cycles},
        {"relu": 0.85, "tanh": 0.85, "cos": 0.86},
        20.0,
        {"relu": 1, "tanh": 1, "cos": 1},
    )
    verdict = claim(result, tolerance=0.02)
    assert verdict["holds"], verdict["line"]
    assert "relu invariant above alpha = 10" in verdict["line"] and "cos: 0.860 at the mean norm" in verdict["line"]
    assert verdict["details"]["cos"]["peaks"] == 2
    # tanh collapsing at large alpha: not invariant, the claim fails
    result.accuracy["tanh"] = np.array([0.2, 0.8, 0.85, 0.85, 0.85, 0.5])
    verdict = claim(result, tolerance=0.02)
    assert not verdict["holds"] and "tanh invariant above alpha = none" in verdict["line"]
    plot(result, tmp_path / "f.png", title="t")
    assert (tmp_path / "f.png").stat().st_size > 1000
