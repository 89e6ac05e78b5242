"""A user's own translation method: added with ``translate.register_method`` or from a
conf/translator/<name>.yaml with ``_target_``, fitted like a built-in one, shown in the
stitching and report lists, and checked by the config stage (a bad target names its file)."""

import functools
import shutil

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from latentstitch import methods as user_methods
from latentstitch.config import CONF_DIR
from latentstitch.params import ConfigError, compose
from latentstitch.translate import METHODS, Alignment, Method, Translator, register_method


def _ridge_aligner(x: torch.Tensor, ys: list[torch.Tensor], ctx, alpha: float) -> list[Alignment]:
    gram = x.T @ x + alpha * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return [Alignment(torch.linalg.solve(gram, x.T @ y)) for y in ys]


def user_ridge(alpha: float = 1.0) -> Method:
    """A user's method factory: ridge without intercept, a fixed penalty."""
    return Method(functools.partial(_ridge_aligner, alpha=alpha))


def not_a_method(alpha: float = 1.0) -> str:
    return "ridge"


@pytest.fixture(autouse=True)
def _registry_restored():
    before, registered = dict(METHODS), dict(user_methods._REGISTERED)
    yield
    METHODS.clear()
    METHODS.update(before)
    user_methods._REGISTERED.clear()
    user_methods._REGISTERED.update(registered)


def _anchors(d1=6, d2=4, n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d1))
    return x, x @ rng.normal(size=(d1, d2)) + 0.01 * rng.normal(size=(n, d2))


def test_registered_method_fits_like_a_built_in_one():
    register_method("user_ridge", user_ridge(alpha=1e-10))
    x, y = _anchors()
    mine = Translator("user_ridge", "standard").fit(x, y)
    # with a vanishing penalty on full-rank anchors, ridge is least squares: the linear method
    np.testing.assert_allclose(mine.transform(x), Translator("linear", "standard").fit(x, y).transform(x), atol=1e-6)
    register_method("user_ridge", user_ridge(alpha=10.0), replace=True)
    shrunk = Translator("user_ridge", "standard").fit(x, y)
    assert np.linalg.norm(shrunk.coef_) < np.linalg.norm(mine.coef_)


@pytest.mark.parametrize(
    "name, method, error, match",
    [
        ("ortho", user_ridge(), ValueError, r"'ortho' is taken \(built in"),
        ("relative", user_ridge(), ValueError, r"'relative' is taken .*reserved"),
        ("my method", user_ridge(), ValueError, "without whitespace"),
        ("", user_ridge(), ValueError, "non-empty"),
        ("mine", _ridge_aligner, TypeError, r"needs a latentstitch.translate.Method, got function: wrap"),
    ],
)
def test_register_method_errors(name, method, error, match):
    with pytest.raises(error, match=match):
        register_method(name, method)


def test_register_method_refuses_a_second_registration_and_a_non_callable_aligner():
    register_method("mine", user_ridge())
    with pytest.raises(ValueError, match="'mine' is already registered; pass replace=True"):
        register_method("mine", user_ridge())
    with pytest.raises(TypeError, match="Method.aligner must be callable"):
        Method("ortho")


def _conf_with(tmp_path, option: dict) -> str:
    """A copy of conf/ with conf/translator/user_ridge.yaml holding ``option``."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "translator" / "user_ridge.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(option)))
    return str(conf)


def test_method_from_a_translator_yaml_is_resolved_registered_and_stitched(tmp_path):
    from latentstitch.plan import stitch_settings
    from latentstitch.reports.tables import METHODS as REPORT_COLUMNS
    from latentstitch.validation import validate_all

    option = {"method": "user_ridge", "_target_": f"{__name__}.user_ridge", "alpha": 0.5}
    conf = _conf_with(tmp_path, option)
    cfg = compose(["suite=smoke", "suite.stitch.methods=[absolute,ortho,user_ridge]"], conf_dir=conf)
    assert OmegaConf.to_container(cfg.translators) == {"user_ridge": option}  # in params.yaml
    validate_all(cfg)
    settings = stitch_settings(cfg, "digits")
    assert settings.methods == ["absolute", "ortho", "user_ridge"] and settings.translator_kwargs == {
        "affine_steps": 30
    }
    assert REPORT_COLUMNS[-1] == "user_ridge"
    x, y = _anchors(seed=1)
    fitted = Translator("user_ridge", "none").fit(x, y)
    np.testing.assert_allclose(fitted.coef_, np.linalg.solve(x.T @ x + 0.5 * np.eye(6), x.T @ y), rtol=1e-10)

    # the sweep option: translator=user_ridge runs it alone, its arguments are not Translator's
    swept = compose(["suite=smoke", "translator=user_ridge"], conf_dir=conf)
    assert OmegaConf.to_container(swept.translators) == {}
    settings = stitch_settings(swept, "digits")
    assert settings.methods == ["user_ridge"] and "alpha" not in settings.translator_kwargs


@pytest.mark.parametrize(
    "target, match",
    [
        ("no.such.module.factory", r"cannot build _target_ 'no.such.module.factory'"),
        (
            f"{__name__}.not_a_method",
            r"_target_ '[a-z_.]*not_a_method' returned str, not a latentstitch.translate.Method",
        ),
    ],
)
def test_config_stage_names_the_file_of_a_bad_method_target(tmp_path, target, match):
    from latentstitch.validation import validate_all

    conf = _conf_with(tmp_path, {"method": "user_ridge", "_target_": target})
    cfg = compose(["suite=smoke", "suite.stitch.methods=[ortho,user_ridge]"], conf_dir=conf)
    with pytest.raises(
        ConfigError, match=r"translators.user_ridge \(file: conf/translator/user_ridge.yaml\): " + match
    ):
        validate_all(cfg)


def test_config_stage_rejects_an_unknown_method_name_naming_the_key():
    from latentstitch.validation import validate_all

    cfg = compose(["suite=smoke", "suite.stitch.methods=[ortho,orthoo]"])
    with pytest.raises(ConfigError, match=r"unknown method 'orthoo' in suite.stitch.methods \(file: conf/suite/smoke"):
        validate_all(cfg)
