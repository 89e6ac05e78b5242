"""Provenance carried by every result row: package version, git revision, config hash."""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import lru_cache
from typing import Any

from latentstitch import __version__
from latentstitch.config import REPO_ROOT


@lru_cache(maxsize=1)
def git_revision() -> str:
    """The repo's HEAD commit (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def config_hash(cfg: Any) -> str:
    """A short stable hash of a (resolved) config: same settings, same hash."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(cfg, (DictConfig, ListConfig)):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    blob = json.dumps(cfg, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def provenance(cfg: Any = None) -> dict[str, str]:
    import numpy
    import sklearn
    import torch

    out = {
        "latentstitch_version": __version__,
        "git_revision": git_revision(),
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "sklearn_version": sklearn.__version__,
    }
    if cfg is not None:
        out["config_hash"] = config_hash(cfg)
    return out
