"""Rescaling injection (Figure 12) on tiny random transformers: the hook, LayerNorm invariance,
and the sweep that replays the blocks before the injected layer."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from latentstitch.appendix.rescaling import (
    RescalingAccuracy,
    accuracy_grid,
    claim,
    injected_at,
    plot,
    rescale,
    rescaling_injection,
    rescaling_sweep,
    transformer_blocks,
)
from latentstitch.encoders import build_encoder

TEXTS = [
    "the cat sat on the mat",
    "stock markets fell sharply",
    "the team won the match",
    "a film",
    "the government minister rose",
    "software phone music",
]
ALPHAS = [1e-2, 0.5, 3.0, 1e2]


@pytest.fixture(scope="module")
def bert():
    return build_encoder("bert_base_cased", tiny=True, device="cpu")


@pytest.fixture(scope="module")
def clip_text():
    # pre-LN blocks and a final LayerNorm after the last block
    return build_encoder("clip_vit_b32_text", tiny=True, device="cpu")


def _model_inputs(encoder, texts=TEXTS):
    features = encoder.features(texts)
    return encoder.collate(features, np.arange(len(features)))


def _record(module, where):
    """A hook registered after the injection: it sees what the next operation receives."""
    seen = []
    if where == "output":
        handle = module.register_forward_hook(
            lambda mod, args, out: seen.append(out[0] if isinstance(out, tuple) else out)
        )
    else:
        handle = module.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    return seen, handle


@pytest.mark.parametrize("where", ["output", "input"])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_hook_sets_every_token_norm_to_alpha_and_keeps_directions(bert, where, alpha):
    block = transformer_blocks(bert.model)[1]
    batch = _model_inputs(bert)
    with torch.inference_mode():
        plain, handle = _record(block, where)
        bert.model(**batch)
        handle.remove()
        with rescaling_injection(block, alpha, where=where):
            seen, handle = _record(block, where)
            bert.model(**batch)
            handle.remove()
    before, after = plain[0], seen[0]
    assert after.shape == before.shape
    torch.testing.assert_close(after.norm(dim=-1), torch.full(after.shape[:-1], alpha), rtol=1e-5, atol=0)
    cosine = nn.functional.cosine_similarity(after, before, dim=-1)
    torch.testing.assert_close(cosine, torch.ones_like(cosine), rtol=0, atol=1e-5)
    # the hook is gone after the context: the model is back to its own states
    with torch.inference_mode():
        again, handle = _record(block, where)
        bert.model(**batch)
        handle.remove()
    torch.testing.assert_close(again[0], before, rtol=0, atol=0)


@pytest.mark.parametrize("encoder_name", ["bert", "clip_text"])
def test_rescaling_the_input_of_any_layernorm_leaves_the_model_output_unchanged(encoder_name, request):
    """LayerNorm(c x) = LayerNorm(x) for c > 0: BERT's embedding and post-LN norms, CLIP's
    pre-LN block norms (whose residual path the hook does not touch) and its final norm.
    LayerNorm divides by sqrt(var + eps), so the identity is exact only for var >> eps; the tiny
    CLIP's first hidden states are so small (var ~ 1e-3) that its eps of 1e-5 shows. The test
    sets every eps to 1e-12 (BERT's own) on a copy of the model, to test the scale invariance
    rather than eps."""
    encoder = request.getfixturevalue(encoder_name)
    model = copy.deepcopy(encoder.model)
    batch = _model_inputs(encoder)
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) >= 3
    for norm in norms:
        norm.eps = 1e-12
    with torch.inference_mode():
        reference = model(**batch).last_hidden_state
        for norm in norms:
            for alpha in ALPHAS:
                with rescaling_injection(norm, alpha, where="input"):
                    out = model(**batch).last_hidden_state
                torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


def test_rescaling_a_block_input_does_change_the_output(bert):
    """The converse: where no LayerNorm follows, the injection is visible (the test above is not
    vacuous). A tiny random BERT (zero biases, small weights) is nearly homogeneous for small
    inputs; a large alpha sharpens its attention and bends its GELUs."""
    batch = _model_inputs(bert)
    with torch.inference_mode():
        reference = bert.model(**batch).last_hidden_state
        with injected_at(transformer_blocks(bert.model), 1, 1e2):
            out = bert.model(**batch).last_hidden_state
    assert (out - reference).abs().max() > 1e-3


@pytest.mark.parametrize("encoder_name", ["bert", "clip_text"])
def test_sweep_equals_a_full_forward_under_the_hook(encoder_name, request):
    encoder = request.getfixturevalue(encoder_name)
    blocks = transformer_blocks(encoder.model)
    layers = list(range(len(blocks) + 1))
    sweep = rescaling_sweep(encoder, TEXTS, layers, ALPHAS, batch_size=4)
    assert sweep.injected.shape == (len(layers), len(ALPHAS), len(TEXTS), encoder.dim)
    assert sweep.token_norms.shape == (len(layers),) and np.all(sweep.token_norms > 0)
    np.testing.assert_allclose(sweep.plain, encoder.embed(TEXTS, batch_size=4), rtol=1e-5, atol=1e-6)
    for i, layer in enumerate(layers):
        for j, alpha in enumerate(ALPHAS):
            with injected_at(blocks, layer, alpha):
                full = encoder.embed(TEXTS, batch_size=4)
            np.testing.assert_allclose(sweep.injected[i, j], full, rtol=1e-5, atol=1e-6)
    # the blocks are the model's own again after the sweep
    assert all(type(b).__name__ != "_Replay" for b in blocks)


def test_rescale_and_errors(bert):
    h = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    torch.testing.assert_close(rescale(h, 10.0), torch.tensor([[6.0, 8.0], [0.0, 0.0]]))
    block = transformer_blocks(bert.model)[0]
    for alpha in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="alpha must be a positive finite number"):
            with rescaling_injection(block, alpha):
                pass
    with pytest.raises(ValueError, match="where must be 'output' or 'input'"):
        with rescaling_injection(block, 1.0, where="middle"):
            pass
    with pytest.raises(ValueError, match=r"layers must be in 0\.\.2"):
        rescaling_sweep(bert, TEXTS, [3], [1.0])
    albert = build_encoder("albert_base_v2", tiny=True, device="cpu")
    with pytest.raises(ValueError, match="'albert' has no list of transformer blocks"):
        transformer_blocks(albert.model)


def test_accuracy_grid_scores_every_slice():
    labels = np.array([0, 1, 1])
    injected = np.zeros((2, 3, 3, 2), dtype=np.float32)
    injected[..., 0] = np.arange(3)[None, :, None]  # alpha index j: predicted class = (j > 0)

    def predict(x):
        return (x[:, 0] > 0).astype(int)

    grid = accuracy_grid(predict, injected, labels)
    np.testing.assert_allclose(grid, [[1 / 3, 2 / 3, 2 / 3]] * 2)
    with pytest.raises(ValueError, match="n = 4 labels"):
        accuracy_grid(predict, injected, np.zeros(4))


def test_claim_names_the_threshold_or_the_failing_layers(tmp_path):
    alphas = np.array([0.01, 0.1, 1.0, 10.0])
    ok = RescalingAccuracy(
        [0, 1], alphas, np.array([[0.2, 0.94, 0.95, 0.95], [0.2, 0.5, 0.94, 0.96]]), 0.95, np.array([5.0, 6.0])
    )
    verdict = claim(ok, tolerance=0.02)
    assert verdict["holds"] and "every alpha >= 1" in verdict["line"]
    assert verdict["details"]["invariant_above"] == {"0": 0.1, "1": 1.0}
    bad = RescalingAccuracy(
        [0, 1], alphas, np.array([[0.2, 0.9, 0.95, 0.95], [0.2, 0.5, 0.94, 0.80]]), 0.95, np.array([5.0, 6.0])
    )
    verdict = claim(bad, tolerance=0.02)
    assert not verdict["holds"] and "at layers [1]" in verdict["line"] and "1: 0.800" in verdict["line"]
    table = ok.table()
    assert len(table) == 8 and set(table.columns) >= {"layer", "alpha", "accuracy", "layer_mean_token_norm"}
    plot(ok, tmp_path / "f.png", title="t")
    assert (tmp_path / "f.png").stat().st_size > 1000
