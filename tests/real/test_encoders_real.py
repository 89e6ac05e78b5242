"""The offline zoo's real pretrained encoders on a few real samples.

Prepared assets (minilm_l3's conversion, mpnet's unzipped folder) go to the default models
directory, so they are built once across test runs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentstitch.encoders import build_encoder, load_spec

pytestmark = pytest.mark.real

CAT, KITTEN, STOCKS = "a cat sat on the mat", "a kitten rested on the rug", "stock markets fell sharply"
IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def _cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def encoders():
    built = {}

    def get(encoder_id):
        if encoder_id not in built:
            built[encoder_id] = build_encoder(encoder_id, device="cpu")
        return built[encoder_id]

    return get


@pytest.mark.parametrize("encoder_id", ["minilm_l6", "mpnet", "minilm_l3", "glove_50d"])
def test_text_encoders_put_a_cat_nearer_a_kitten_than_stocks(encoders, encoder_id):
    encoder = encoders(encoder_id)
    cat, kitten, stocks = encoder.embed([CAT, KITTEN, STOCKS])
    assert encoder.dim == load_spec(encoder_id).dim
    assert _cosine(cat, kitten) > _cosine(cat, stocks) + 0.1


def test_minilm_l3_conversion_matches_onnxruntime(encoders):
    ort = pytest.importorskip("onnxruntime")
    from latentstitch.encoders.sources import package_file

    encoder = encoders("minilm_l3")
    spec = encoder.spec
    session = ort.InferenceSession(str(package_file(spec, spec.files["onnx"])), providers=["CPUExecutionProvider"])
    texts = [CAT, KITTEN, STOCKS, "The quick brown fox jumps over the lazy dog, again and again."]
    batch = encoder.tokenizer(texts, padding=True, return_tensors="np")
    feeds = {i.name: batch[i.name].astype(np.int64) for i in session.get_inputs()}
    # The export's sentence embedding: its 2-D (n, 384) output, mean pooling over real tokens.
    (pooled,) = [o for o in session.run(None, feeds) if o.shape == (len(texts), 384)]
    np.testing.assert_allclose(encoder.embed(texts), pooled, atol=1e-4, rtol=0)


def test_minilm_l6_matches_its_sentence_transformers_pooling(encoders):
    # all-MiniLM-L6-v2 is mean pooling then L2 normalization; ours stops before normalizing.
    encoder = encoders("minilm_l6")
    batch = encoder.tokenizer([CAT], return_tensors="pt")
    with torch.inference_mode():
        states = encoder.model(**batch).last_hidden_state[0]
    np.testing.assert_allclose(encoder.embed([CAT])[0], states.mean(0).numpy(), atol=1e-5)


@pytest.mark.parametrize("encoder_id", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_efficientnet_lite_sees_a_cat(encoders, encoder_id):
    from skimage import data

    encoder = encoders(encoder_id)
    probabilities = encoder.logits(data.chelsea()[None]).softmax(-1)[0]
    assert int(probabilities.argmax()) in IMAGENET_CATS
    assert float(probabilities[list(IMAGENET_CATS)].sum()) > 0.5
    assert encoder.embed(data.chelsea()[None]).shape == (1, 1280)


def test_efficientnet_weight_mapping_fails_loudly_on_a_missing_key():
    import timm

    from latentstitch.encoders.lukemelas import lukemelas_to_timm
    from latentstitch.encoders.sources import package_file

    spec = load_spec("efficientnet_lite0")
    weights = torch.load(package_file(spec, spec.files["weights"]), map_location="cpu", weights_only=True)
    model = timm.create_model(spec.arch, pretrained=False)
    assert set(lukemelas_to_timm(weights, model)) == set(model.state_dict())
    del weights["_blocks.3._bn1.weight"]
    with pytest.raises(ValueError, match=r"missing \['blocks\.2\.0\.bn2\.weight'\]"):
        lukemelas_to_timm(weights, model)
    with pytest.raises(ValueError, match="do not map onto EfficientNet"):
        lukemelas_to_timm(weights, timm.create_model("tf_efficientnet_lite1", pretrained=False))


def test_prepared_assets_are_reused(tmp_path):
    # A second build with the same models_dir finds the converted folder and does not rebuild it.
    first = build_encoder("minilm_l3", device="cpu", models_dir=tmp_path)
    marker = tmp_path / "minilm_l3" / ".latentstitch-asset.json"
    stamp = marker.stat().st_mtime_ns
    second = build_encoder("minilm_l3", device="cpu", models_dir=tmp_path)
    assert marker.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.embed([CAT]), second.embed([CAT]))
