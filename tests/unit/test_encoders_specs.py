"""Encoder configs, and the single message for an encoder that is not available here."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from latentstitch.config import load_group_config
from latentstitch.encoders import EncoderUnavailableError, build_encoder, encoder_ids, load_spec
from latentstitch.encoders.spec import POOLINGS


def _cfg(encoder_id, **changes):
    cfg = OmegaConf.to_container(load_group_config("encoder", encoder_id))
    cfg.update(changes)
    return {k: v for k, v in cfg.items() if v is not None}


@pytest.mark.parametrize("encoder_id", encoder_ids())
def test_every_config_is_valid(encoder_id):
    spec = load_spec(encoder_id)
    assert spec.id == encoder_id and spec.pooling in POOLINGS[spec.family]
    assert spec.paper_table and spec.dim
    if spec.family in ("hf_text", "clip_text"):
        assert spec.max_length >= 77
    if spec.offline:
        assert spec.revision == "+".join(sorted({f"{f.package}=={f.version}" for f in spec.files.values()}))


def test_paper_hub_encoders_use_cls_pooling():
    # The authors' code takes the last layer's first token of the HF text encoders.
    for encoder_id in (
        "bert_base_cased",
        "bert_base_uncased",
        "electra_base",
        "roberta_base",
        "albert_base_v2",
        "xlm_roberta_base",
    ):
        spec = load_spec(encoder_id)
        assert (spec.pooling, spec.max_length, spec.paper_table) == ("cls", 512, "Table 7")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"pooling": "max"}, "pooling 'max' is not available for family 'hf_text'; valid: cls, mean"),
        ({"family": "lstm"}, "unknown family 'lstm'"),
        ({"source": "ftp"}, "unknown source 'ftp'"),
        ({"max_length": None}, "max_length must be a positive int"),
        ({"revision": None}, "a hub encoder needs a 'revision'"),
        ({"dim": -1}, "dim must be a positive int"),
        ({"colour": "blue"}, "unknown keys \\['colour'\\]"),
    ],
)
def test_invalid_configs_raise_naming_the_problem(changes, message):
    with pytest.raises(ValueError, match=message):
        load_spec(_cfg("bert_base_cased", **changes))


def test_clip_text_refuses_cls_pooling():
    with pytest.raises(ValueError, match="valid: eos, mean"):
        load_spec(_cfg("clip_vit_b32_text", pooling="cls"))


def test_unknown_encoder_id_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown encoder 'bert_large'; valid: .*minilm_l6"):
        build_encoder("bert_large")


def test_hub_model_missing_offline_gives_one_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = _cfg("bert_base_cased", model="latentstitch-tests/no-such-model")
    with pytest.raises(EncoderUnavailableError) as info:
        build_encoder(cfg)
    message = str(info.value)
    assert "'bert_base_cased'" in message and "latentstitch-tests/no-such-model" in message
    assert "HF_HUB_OFFLINE=1" in message and "pip install -e '.[offline]'" in message
    assert info.value.__cause__ is None and info.value.__context__ is None  # no chained traceback


def test_hub_download_failure_gives_one_message(monkeypatch):
    import transformers

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")

    def not_found(*args, **kwargs):
        raise OSError("latentstitch-tests/no-such-model is not a valid model identifier\nmore detail")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", not_found)
    with pytest.raises(
        EncoderUnavailableError,
        match="could not load 'latentstitch-tests/no-such-model'.*not a valid model identifier. Check the model name",
    ) as info:
        build_encoder(_cfg("bert_base_cased", model="latentstitch-tests/no-such-model"), device="cpu")
    assert info.value.__suppress_context__


def test_missing_offline_package_gives_one_message():
    cfg = _cfg("minilm_l6")
    cfg["files"] = {"folder": {"package": "latentstitch-no-such-package", "version": "1.0", "path": "x"}}
    with pytest.raises(
        EncoderUnavailableError,
        match="needs the PyPI package latentstitch-no-such-package==1.0, "
        "which is not installed: install the offline zoo with `pip install -e '.\\[offline\\]'`",
    ):
        build_encoder(cfg)


def test_wrong_offline_package_version_gives_one_message():
    cfg = _cfg("minilm_l6")
    cfg["files"] = {"folder": {"package": "numpy", "version": "0.0.1", "path": "numpy"}}
    with pytest.raises(EncoderUnavailableError, match="pinned to numpy==0.0.1 but .* is installed"):
        build_encoder(cfg)


def test_bad_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu0'"):
        build_encoder("bert_base_cased", tiny=True, device="gpu0")
