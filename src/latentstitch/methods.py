"""A user's own translation method, from its config: added without editing the package.

``conf/translator/<name>.yaml`` with ``_target_`` names a callable on the Python path that
returns a ``latentstitch.translate.Method``; its other keys but ``method`` are the callable's
arguments, as in ``hydra.utils.instantiate``::

    # conf/translator/shrunk_ortho.yaml
    method: shrunk_ortho
    _target_: mypackage.methods.shrunk_ortho   # def shrunk_ortho(shrink: float) -> Method
    shrink: 0.5

A suite names it like a built-in method (``suite.stitch.methods: [ortho, shrunk_ortho]``:
``scripts/compose_params.py`` resolves the option into params.yaml's ``translators`` section,
so a changed argument reruns stitch), or sweeps it (``translator=shrunk_ortho``).
``register_configured(cfg)`` registers each such method with
``latentstitch.translate.register_method``: the stages that read method names call it first,
and the ``config`` stage (``latentstitch.validation``) builds every one before any work. The
user's module is not a DVC dependency (it is outside the package): its config is.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from latentstitch.params import TARGET, ConfigError, suite_methods
from latentstitch.stitching import BASELINES
from latentstitch.translate import METHODS, Method, register_method

# name -> the option it was registered from, so that each stage may register again (a no-op)
_REGISTERED: dict[str, str] = {}


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def build_method(option: Mapping[str, Any], where: str) -> Method:
    """The ``Method`` a conf/translator option with ``_target_`` builds; ConfigError naming
    ``where`` when the target cannot be imported or called, or returns no ``Method``."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    target = option.get(TARGET)
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{where}: `{TARGET}` must name a callable that returns a latentstitch.translate.Method")
    try:
        method = instantiate({k: v for k, v in option.items() if k != "method"}, _convert_="all")
    except InstantiationException as err:
        raise ConfigError(f"{where}: cannot build {TARGET} {target!r}: {err}") from None
    if not isinstance(method, Method):
        raise ConfigError(
            f"{where}: {TARGET} {target!r} returned {type(method).__name__}, not a latentstitch.translate.Method "
            f"(return Method(aligner) from it)"
        )
    return method


def configured_methods(cfg: DictConfig) -> dict[str, tuple[dict, str]]:
    """name -> (option, where) of every method the config defines with ``_target_``: params.yaml's
    ``translators`` section and the sweep option ``translator`` when it carries one."""
    found: dict[str, tuple[dict, str]] = {}
    for name, option in (_plain(OmegaConf.select(cfg, "translators")) or {}).items():
        where = f"translators.{name} (file: conf/translator/{name}.yaml)"
        if option.get("method", name) != name:
            raise ConfigError(f"{where}: `method: {option['method']}` differs from the file's name {name!r}")
        found[name] = (option, where)
    sweep = _plain(OmegaConf.select(cfg, "translator"))
    if isinstance(sweep, dict) and TARGET in sweep:
        where = "translator (the sweep option, conf/translator/)"
        name = sweep.get("method")
        if not isinstance(name, str):
            raise ConfigError(f"{where}: needs `method: <name>`, the name the method is registered under")
        if name in found and found[name][0] != sweep:
            raise ConfigError(f"{where}: method {name!r} differs from translators.{name}")
        found[name] = (sweep, where)
    return found


def register_configured(cfg: DictConfig) -> list[str]:
    """Register every method ``configured_methods(cfg)`` finds (again: a no-op); their names."""
    for name, (option, where) in configured_methods(cfg).items():
        record = json.dumps(option, sort_keys=True, default=str)
        if _REGISTERED.get(name) == record and name in METHODS:
            continue
        method = build_method(option, where)
        try:
            register_method(name, method, replace=name in _REGISTERED)
        except (ValueError, TypeError) as err:
            raise ConfigError(f"{where}: {err}") from None
        _REGISTERED[name] = record
    return list(configured_methods(cfg))


def check_method_names(cfg: DictConfig) -> None:
    """ConfigError for a method the suite names that is neither a baseline, nor built in, nor
    registered (call ``register_configured`` first), naming where it is."""
    valid = (*BASELINES, *METHODS)
    suite = cfg.suite.get("name", "?")
    for where, name in suite_methods(cfg.suite):
        if name not in valid:
            raise ConfigError(
                f"unknown method {name!r} in {where} (file: conf/suite/{suite}.yaml); valid: {', '.join(valid)}; "
                f"or your own: conf/translator/{name}.yaml with `{TARGET}: your.module.factory` (see latentstitch.methods)"
            )
