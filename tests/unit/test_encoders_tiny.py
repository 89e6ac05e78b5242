"""Every encoder family through its real code path, on tiny random models built from config classes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from latentstitch.encoders import build_encoder, encoder_ids, load_spec
from latentstitch.encoders.glove import glove_tokens

TEXT_IDS = [
    "bert_base_cased",
    "bert_base_uncased",
    "electra_base",
    "roberta_base",
    "albert_base_v2",
    "xlm_roberta_base",
    "clip_vit_b32_text",
    "minilm_l6",
    "minilm_l3",
    "mpnet",
    "glove_50d",
]
IMAGE_IDS = [
    "rexnet_100",
    "cspdarknet53",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "vit_base_patch16_384",
    "vit_base_resnet50_384",
    "clip_vit_b32_vision",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
]
TEXTS = [
    "a cat sat on the mat",
    "",
    "Stock markets fell sharply; the bank's shares rose!",
    "ok",
    # Longer than CLIP's 77 tokens: truncated, not rejected.
    " ".join(["the government won the election and the minister"] * 30),
    "kitten",
    "A film about music, a game and a team that won the match.",
] * 3  # 21 texts: batches of 16 mix lengths and a short last batch


def _images(n=17, side=28, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side), dtype=np.uint8)


def _inputs(encoder):
    return TEXTS if encoder.modality == "text" else _images()


def test_every_config_is_tested_here():
    assert sorted(TEXT_IDS + IMAGE_IDS) == encoder_ids()


@pytest.fixture(scope="module", params=TEXT_IDS + IMAGE_IDS)
def tiny(request):
    return build_encoder(request.param, tiny=True, device="cpu")


def test_shapes_and_metadata(tiny):
    spec = load_spec(tiny.id)
    x = tiny.embed(_inputs(tiny), batch_size=16)
    assert x.dtype == np.float32 and x.shape == (len(_inputs(tiny)), tiny.dim)
    assert np.isfinite(x).all()
    assert (tiny.modality, tiny.pooling, tiny.revision) == (spec.modality, spec.pooling, spec.revision)
    assert tiny.describe()["tiny"] is True


def test_deterministic_across_calls_and_builds(tiny):
    inputs = _inputs(tiny)
    first = tiny.embed(inputs, batch_size=16)
    np.testing.assert_array_equal(first, tiny.embed(inputs, batch_size=16))
    rebuilt = build_encoder(tiny.id, tiny=True, device="cpu")
    np.testing.assert_array_equal(first, rebuilt.embed(inputs, batch_size=16))


def test_batch_1_equals_batch_16(tiny):
    inputs = _inputs(tiny)
    np.testing.assert_allclose(tiny.embed(inputs, batch_size=1), tiny.embed(inputs, batch_size=16), atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoder_id", [i for i in TEXT_IDS if i != "glove_50d"])
def test_text_pooling_matches_an_unbatched_forward(encoder_id):
    encoder = build_encoder(encoder_id, tiny=True, device="cpu")
    text = "Stock markets fell sharply; the bank's shares rose!"
    ids = encoder.tokenizer(text, truncation=True, max_length=encoder.max_length)["input_ids"]
    with torch.inference_mode():
        states = encoder.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
    if encoder.pooling == "cls":
        assert ids[0] == encoder.tokenizer.cls_token_id
        expected = states[0]
    elif encoder.pooling == "mean":
        expected = states.mean(dim=0)
    else:  # eos: the state at the end-of-text token
        expected = states[ids.index(encoder.tokenizer.eos_token_id)]
    # In a padded batch with longer texts, pooling must ignore the padding.
    x = encoder.embed([text, TEXTS[4]], batch_size=2)
    np.testing.assert_allclose(x[0], expected.numpy(), atol=1e-5, rtol=0)


def test_text_truncates_at_max_length():
    encoder = build_encoder("clip_vit_b32_text", tiny=True, device="cpu")
    (ids,) = encoder.features([TEXTS[4]])
    assert len(ids) == encoder.max_length == 77


@pytest.mark.parametrize("encoder_id", ["rexnet_100", "vit_small_patch16_224", "efficientnet_lite0"])
def test_timm_features_are_num_classes_0_outputs(encoder_id):
    encoder = build_encoder(encoder_id, tiny=True, device="cpu")
    images = _images(4)
    batch = encoder.collate(images, np.arange(4))
    headless = copy.deepcopy(encoder.model)
    headless.reset_classifier(0)
    with torch.inference_mode():
        expected = headless(batch).numpy()
        logits = encoder.model(batch).numpy()
    np.testing.assert_allclose(encoder.embed(images), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(encoder.logits(images).numpy(), logits, atol=1e-5, rtol=0)


def test_clip_vision_cls_is_first_token():
    encoder = build_encoder("clip_vit_b32_vision", tiny=True, device="cpu")
    images = _images(3)
    with torch.inference_mode():
        out = encoder.model(pixel_values=encoder.collate(images, np.arange(3)))
    np.testing.assert_allclose(encoder.embed(images), out.last_hidden_state[:, 0].numpy(), atol=1e-6)


def test_images_accept_rgb_and_sequences_of_any_size():
    encoder = build_encoder("efficientnet_lite0", tiny=True, device="cpu")
    gray = _images(3)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(encoder.embed(gray), encoder.embed(rgb), atol=1e-6, rtol=0)
    # A sequence (e.g. image files decoded one by one) may mix sizes.
    mixed = [gray[0], _images(1, side=40)[0], rgb[2]]
    x = encoder.embed(mixed, batch_size=2)
    np.testing.assert_allclose(x[[0, 2]], encoder.embed(gray)[[0, 2]], atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        encoder.embed(gray.astype(np.float32))
    with pytest.raises(TypeError, match="encodes images"):
        encoder.embed("not images")


def test_text_encoders_reject_non_text():
    encoder = build_encoder("bert_base_cased", tiny=True, device="cpu")
    with pytest.raises(TypeError, match="sequence of str"):
        encoder.embed("a single string")
    with pytest.raises(ValueError, match="batch_size"):
        encoder.embed(TEXTS, batch_size=0)


def test_glove_tokenization_and_empty_texts():
    assert glove_tokens("Don't STOP_me, 3 cats!") == ["don", "t", "stop", "me", "3", "cats"]
    encoder = build_encoder("glove_50d", tiny=True, device="cpu")
    x = encoder.embed(["", "zzz qqq", "cat", "Cat, CAT! kitten"])
    np.testing.assert_array_equal(x[:2], 0.0)  # no known word -> zeros
    cat, kitten = encoder.bag.weight.numpy()[[encoder.index["cat"], encoder.index["kitten"]]]
    np.testing.assert_allclose(x[2], cat)
    np.testing.assert_allclose(x[3], (2 * cat + kitten) / 3, atol=1e-6)


def test_amp_runs_close_to_float32():
    encoder = build_encoder("bert_base_cased", tiny=True, device="cpu")
    full, mixed = encoder.embed(TEXTS), encoder.embed(TEXTS, amp=True)
    cosine = (full * mixed).sum(1) / np.linalg.norm(full, axis=1) / np.linalg.norm(mixed, axis=1)
    assert mixed.dtype == np.float32 and cosine.min() > 0.99
