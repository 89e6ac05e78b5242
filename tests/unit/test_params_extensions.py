"""The params schema knows exactly the keys of the blocks that code beyond the paper reads."""

from dataclasses import fields

from latentstitch import params
from latentstitch.few_anchors import FewAnchorSettings


def test_few_anchors_schema_matches_the_settings_fields():
    # FewAnchorSettings takes counts and seeds from the block's `anchors: {num, seeds}`
    expected = ({f.name for f in fields(FewAnchorSettings)} - {"counts", "seeds"}) | {"anchors"}
    assert set(params._FEW_SCOPE) == expected
    assert set(params._FEW) == expected | {"datasets"}


def test_a_misspelt_few_anchors_key_names_the_key():
    import pytest

    cfg = params.compose(["suite=smoke"])
    tree = params.OmegaConf.to_container(cfg, resolve=True)
    tree["suite"]["stitch"]["few_anchors"] = {"methodz": ["ortho"]}
    with pytest.raises(params.ConfigError, match="methodz"):
        params.validate(tree)
