"""Where the Hydra configs live, and loading one option of a config group outside Hydra."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = Path(os.environ.get("LATENTSTITCH_CONF_DIR", REPO_ROOT / "conf"))


def group_options(group: str) -> list[str]:
    """Names of the options of a config group (the yaml files in conf/<group>/)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def load_group_config(group: str, name: str) -> DictConfig:
    """Load conf/<group>/<name>.yaml; unknown names raise ValueError listing the valid ones."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.exists():
        raise ValueError(
            f"unknown {group} {name!r}; valid: {', '.join(group_options(group)) or '(none)'} "
            f"(configs in {CONF_DIR / group})"
        )
    cfg = OmegaConf.load(path)
    if "defaults" in cfg:
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "defaults"])
    return cfg
