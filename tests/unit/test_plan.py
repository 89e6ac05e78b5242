"""Stitch settings resolved from a suite: defaults, per-dataset and per-task scopes, sweep keys."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from latentstitch.config import CONF_DIR
from latentstitch.plan import AnchorPlan, anchor_plan, stitch_settings, wants_relative


def config(*overrides, stitch=None):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    with open_dict(cfg):
        cfg.suite = OmegaConf.create(
            {
                "name": "unit",
                "datasets": {"a": {}, "b": {}},
                "anchors": {"num": [100], "seeds": [0, 1]},
                "stitch": stitch
                if stitch is not None
                else {
                    "methods": ["ortho", "affine", "relative"],
                    "scalings": ["standard"],
                    "translator": {"affine_steps": 30},
                    "datasets": {
                        "b": {
                            "anchors": {"num": [10, 20]},
                            "methods": ["linear"],
                            "autoencoders": {"anchors": {"num": 50, "stratified": True}, "scalings": ["l2"]},
                        },
                    },
                },
            }
        )
    return cfg


def test_scopes_nest_dataset_then_task():
    cfg = config()
    assert anchor_plan(cfg, "a") == AnchorPlan([100], [0, 1], False)
    assert anchor_plan(cfg, "b") == AnchorPlan([10, 20], [0, 1], False)
    assert anchor_plan(cfg, "b", "reconstruction") == AnchorPlan([50], [0, 1], True)
    a, b = stitch_settings(cfg, "a"), stitch_settings(cfg, "b", "reconstruction")
    assert a.methods == ["ortho", "affine", "relative"] and a.translator_kwargs == {"affine_steps": 30}
    assert b.methods == ["linear"] and b.scalings == ["l2"] and b.anchor_counts == [50]
    assert wants_relative(cfg, "a") and not wants_relative(cfg, "b")


def test_sweep_keys_override_every_dataset():
    cfg = config("translator=affine", "scaling=l2", "anchors=30")
    for dataset in ("a", "b"):
        settings = stitch_settings(cfg, dataset)
        assert settings.methods == ["affine"] and settings.scalings == ["l2"]
        assert settings.anchor_counts == [30] and settings.seeds == [0, 1]
        assert settings.translator_kwargs == {"affine_steps": 300, "affine_lr": 0.001}
    assert stitch_settings(config("scaling=standard"), "a").translator_kwargs == {"affine_steps": 30, "ddof": 1}
    assert stitch_settings(config("anchors=[5,6]"), "b").anchor_counts == [5, 6]


def test_defaults_and_errors_name_the_key():
    cfg = config(stitch={})
    settings = stitch_settings(cfg, "a")
    assert "relative" in settings.methods and settings.scalings == ["standard", "l2"]
    cfg = config(stitch={"datasets": {"a": {"anchor": 3}}})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['anchor'\] in suite.stitch.datasets.a"):
        stitch_settings(cfg, "a")
    cfg = config()
    del cfg.suite.anchors
    with pytest.raises(ValueError, match="the suite needs anchors"):
        anchor_plan(cfg, "a")
    with pytest.raises(ValueError, match="anchors.num must be an int"):
        anchor_plan(config(stitch={"datasets": {"a": {"anchors": {"num": "many"}}}}), "a")


def test_every_suite_resolves():
    for suite in sorted(p.stem for p in (CONF_DIR / "suite").glob("*.yaml")):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"suite={suite}"])
        for dataset, dcfg in cfg.suite.datasets.items():
            tasks = (["classification"] if dcfg.get("heads") else []) + (
                ["reconstruction"] if dcfg.get("autoencoders") else []
            )
            for task in tasks:
                settings = stitch_settings(cfg, dataset, task)
                assert settings.anchor_counts and settings.seeds, (suite, dataset, task)
