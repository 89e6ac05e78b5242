"""params.yaml and dvc.yaml are generated (from conf/ and src/latentstitch/pipeline.py), never
stale or hand-edited; the config schema rejects unknown keys, naming key, file and valid keys."""

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from latentstitch.config import REPO_ROOT
from latentstitch.params import ConfigError, check_fresh, compose, render, validate
from latentstitch.pipeline import STAGES, dvc_yaml, module_files


def test_params_yaml_and_dvc_yaml_are_fresh():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "compose_params.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    # the committed params.yaml is exactly the default composition
    assert (REPO_ROOT / "params.yaml").read_text() == render(compose([]), [])
    assert (REPO_ROOT / "dvc.yaml").read_text() == dvc_yaml()


def test_params_hold_every_group_option_the_suite_names():
    cfg = compose(["suite=smoke"])
    assert set(cfg.encoders) == {
        "efficientnet_lite0",
        "rexnet_100",
        "vit_small_patch16_224",
        "bert_base_cased",
        "roberta_base",
        "electra_base",
    }
    assert set(cfg.heads) == {"svm_fast", "svm", "mlp"}  # mlp: the appendix's figure13
    assert cfg.heads.svm.kind == "svm" and cfg.autoencoders.cnn_tiny.max_epochs == 2
    assert set(cfg.datasets) == {"digits", "bbc_news", "digits_inverted"} and cfg.datasets.digits.split_seed == 0


@pytest.mark.parametrize(
    "where, key, file",
    [
        ("suite.datasets.bbc_news", "encoderz", "conf/suite/smoke.yaml"),
        ("suite.stitch", "methodz", "conf/suite/smoke.yaml"),
        ("suite.datasets.digits.autoencoders", "seed", "conf/suite/smoke.yaml"),
        ("datasets.digits", "split_sed", "conf/dataset/digits.yaml"),
        ("autoencoders.cnn_tiny", "chanels", "conf/autoencoder/cnn_tiny.yaml"),
        ("encode", "batchsize", "conf/config.yaml"),
    ],
)
def test_unknown_keys_name_key_file_and_valid_keys(where, key, file):
    cfg = compose(["suite=smoke"])
    OmegaConf.update(cfg, f"{where}.{key}", 1, force_add=True)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    message = str(err.value)
    assert f"'{key}'" in message and where in message and file in message and "valid keys:" in message


def test_head_and_encoder_keys_are_checked_by_the_config_stage():
    from latentstitch.validation import validate_all

    cfg = compose(["suite=smoke"])
    validate_all(cfg)
    OmegaConf.update(cfg, "heads.svm.Cc", 1.0, force_add=True)
    with pytest.raises(ConfigError, match=r"'Cc' in heads.svm \(file: conf/head/svm.yaml\); valid keys: C, kind"):
        validate_all(cfg)
    cfg = compose(["suite=smoke"])
    OmegaConf.update(cfg, "suite.stitch.translator.affine_stepz", 3, force_add=True)
    with pytest.raises(ConfigError, match="affine_stepz"):
        validate_all(cfg)


def test_unknown_group_option_fails_at_composition():
    with pytest.raises(ValueError, match=r"unknown dataset 'digitz'; valid: .*digits"):
        compose(["suite=smoke", "+suite.datasets.digitz={encoders: [rexnet_100]}"])


def test_stale_params_is_an_error(tmp_path):
    cfg = OmegaConf.create(render(compose(["suite=smoke"]), ["suite=smoke"]).split("\n", 1)[1])
    check_fresh(cfg)  # just composed: fresh
    cfg.composed.sha256 = "0" * 64  # what an older conf/ composed to
    with pytest.raises(ConfigError, match=r"params.yaml is stale: conf/ has changed .*compose_params.py suite=smoke"):
        check_fresh(cfg)
    del cfg["composed"]
    with pytest.raises(ConfigError, match="not written by scripts/compose_params.py"):
        check_fresh(cfg)


def test_no_stage_imports_another_stage():
    for stage in STAGES:
        stage_modules = [
            p
            for p in module_files(stage.module)
            if p.parent.name == "stages" and p.name not in ("__init__.py", "_cli.py")
        ]
        assert [p.stem for p in stage_modules] in ([], [stage.module.rsplit(".", 1)[1]]), (stage.name, stage_modules)


def test_method_names_exist_once():
    """translate.METHODS is the one list, in the paper's display order: the stitching engine's
    and the report's lists are views of it (so a registered method appears in each, after the
    built-in ones), and every conf/translator/ sweep option names one of them."""
    from latentstitch.config import CONF_DIR
    from latentstitch.plan import DEFAULT_METHODS
    from latentstitch.reports import tables
    from latentstitch.stitching import BASELINES, NONLINEAR_METHODS, TRANSLATION_METHODS, StitchSettings
    from latentstitch.translate import BUILTIN_METHODS, METHODS, Method, register_method

    paper = ("affine", "linear", "l-ortho", "ortho")
    translating = tuple(m for m in METHODS if m not in BASELINES)
    assert tuple(TRANSLATION_METHODS) == translating == tuple(tables.TRANSLATION_METHODS)
    assert translating[:4] == paper  # the paper's column order, then those beyond it
    assert tuple(tables.METHODS) == ("no-stitch", *BASELINES, *translating)
    assert set(tables.BEYOND_PAPER) == set(translating[4:]) == {"ridge", "irp", "kernel", "mlp"}
    assert set(NONLINEAR_METHODS) == {"irp", "kernel", "mlp"}
    assert DEFAULT_METHODS == [*BASELINES, *translating] and BUILTIN_METHODS == tuple(METHODS)
    options = {OmegaConf.load(p).method for p in (CONF_DIR / "translator").glob("*.yaml")}
    assert options <= set(METHODS) | set(BASELINES), options - set(METHODS) - set(BASELINES)

    register_method("mine", Method(METHODS["linear"].aligner))
    try:
        assert tuple(TRANSLATION_METHODS) == tuple(tables.TRANSLATION_METHODS) == (*translating, "mine")
        assert tables.METHODS[-1] == "mine" and "mine" in tables.BEYOND_PAPER and "mine" not in NONLINEAR_METHODS
        assert StitchSettings(methods=["ortho", "mine"]).methods == ["ortho", "mine"]
        assert "mine" not in DEFAULT_METHODS  # the default runs the built-in methods
    finally:
        del METHODS["mine"]
    assert "mine" not in TRANSLATION_METHODS
