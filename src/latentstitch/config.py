"""Where the Hydra configs live, and loading one option of a config group outside Hydra."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = Path(os.environ.get("LATENTSTITCH_CONF_DIR", REPO_ROOT / "conf"))


def group_options(group: str, conf_dir: str | Path | None = None) -> list[str]:
    """Names of the options of a config group (the yaml files in conf/<group>/)."""
    return sorted(p.stem for p in (Path(conf_dir or CONF_DIR) / group).glob("*.yaml"))


def load_group_config(group: str, name: str, conf_dir: str | Path | None = None) -> DictConfig:
    """Load conf/<group>/<name>.yaml; unknown names raise ValueError listing the valid ones."""
    conf = Path(conf_dir or CONF_DIR)
    path = conf / group / f"{name}.yaml"
    if not path.exists():
        raise ValueError(
            f"unknown {group} {name!r}; valid: {', '.join(group_options(group, conf)) or '(none)'} "
            f"(configs in {conf / group})"
        )
    cfg = OmegaConf.load(path)
    if "defaults" in cfg:
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "defaults"])
    return cfg


# The sections of params.yaml that hold the resolved options of each config group the suite
# names (latentstitch.params writes them), so params.yaml holds everything that decides a result.
GROUP_SECTIONS = {"dataset": "datasets", "encoder": "encoders", "head": "heads", "autoencoder": "autoencoders"}


def group_config(cfg: DictConfig, group: str, name: str) -> DictConfig:
    """The ``group`` option ``name`` as the stage's config holds it (params.yaml's resolved
    ``datasets`` / ``encoders`` / ``heads`` / ``autoencoders`` sections); a config without that
    section (a hand-built one, e.g. in tests) reads conf/<group>/<name>.yaml."""
    section = OmegaConf.select(cfg, GROUP_SECTIONS[group]) if cfg is not None else None
    if section is None:
        return load_group_config(group, name)
    if name not in section:
        raise ValueError(
            f"{group} {name!r} is not resolved in the config's `{GROUP_SECTIONS[group]}` section "
            f"({', '.join(section) or 'empty'}): recompose params.yaml (python scripts/compose_params.py)"
        )
    return section[name]
