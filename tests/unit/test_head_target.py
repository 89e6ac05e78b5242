"""A user's own head, from a YAML mapping with ``_target_`` and a class on the Python path:
built, trained, saved and loaded with no edit of the package, and checked by the config stage."""

import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from latentstitch.decoders import build_head, load_head, save_head
from latentstitch.decoders.heads import SVMHead


class NearestCentroidHead(SVMHead):
    """A user's head: reuses the scikit-learn plumbing of SVMHead with another estimator."""

    kind = "user_logreg"

    def __init__(self, C: float = 1.0, seed: int = 0) -> None:
        self.C, self.seed = C, seed

    def _make_estimator(self):
        return LogisticRegression(C=self.C, max_iter=500, random_state=self.seed)


def test_head_from_target(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 5)).astype(np.float32), np.repeat([0, 1], 100)
    x[y == 1] += 2.0
    target = f"{__name__}.NearestCentroidHead"
    head = build_head({"_target_": target, "C": 0.5}, seed=3, accelerator="cpu").fit(x, y)
    assert isinstance(head, NearestCentroidHead) and head.seed == 3 and head.score(x, y) > 0.9
    save_head(head, tmp_path / "h")
    again = load_head(tmp_path / "h")
    np.testing.assert_array_equal(again.predict(x), head.predict(x))
    with pytest.raises(ValueError, match=r"unknown settings \['D'\]"):
        build_head({"_target_": target, "D": 1})


def test_config_stage_checks_a_target_head():
    from omegaconf import OmegaConf

    from latentstitch.params import ConfigError, compose
    from latentstitch.validation import validate_all

    assert sys.modules[__name__].NearestCentroidHead
    cfg = compose(["suite=smoke"])
    OmegaConf.update(cfg, "heads.svm", {"_target_": f"{__name__}.NearestCentroidHead", "C": 2.0}, merge=False)
    validate_all(cfg)
    OmegaConf.update(cfg, "heads.svm", {"_target_": f"{__name__}.NearestCentroidHead", "CC": 2.0}, merge=False)
    with pytest.raises(ConfigError, match=r"'CC' in heads.svm"):
        validate_all(cfg)
    OmegaConf.update(cfg, "heads.svm", {"_target_": "no.such.Head"}, merge=False)
    with pytest.raises(ConfigError, match=r"heads.svm \(file: conf/head/svm.yaml\)"):
        validate_all(cfg)
