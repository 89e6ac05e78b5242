"""Small helpers the dataset sources share: required config keys and install hints."""

from __future__ import annotations

from typing import Any

OFFLINE_EXTRA_HINT = "install the offline extra: pip install -e '.[offline]'"


def require(cfg, *keys: str) -> list[Any]:
    """The values of ``keys`` in a dataset config; a missing key raises ValueError naming it."""
    missing = [key for key in keys if cfg.get(key) is None]
    if missing:
        raise ValueError(
            f"dataset config {cfg.get('name', '?')!r} (source {cfg.get('source', '?')!r}) "
            f"misses {', '.join(missing)}; see conf/dataset/ for complete examples"
        )
    return [cfg[key] for key in keys]
