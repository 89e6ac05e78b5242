"""The whole config checked before any work: the stage ``config`` of the pipeline.

    python -m latentstitch.validation --params params.yaml      # what dvc.yaml runs (stage config)

Checks, in seconds: params.yaml fresh (``latentstitch.params.check_fresh``); every key known
(``latentstitch.params.validate``), including the keys code decides: head kinds and each
kind's settings, encoder specs, translator keyword arguments, and what a user's own head,
encoder, autoencoder or method names with ``_target_`` (imported, of the right kind, taking
the given arguments); every dataset, encoder, head, autoencoder and method the suite names
resolved and valid, every dataset's source known, every encoder of its dataset's modality and
its weights available on this machine (without loading it; tiny suites need none; a user's
encoder has no weights to check: its class is imported instead). A failure is one line on
stderr naming what is wrong, exit code 2.

The stage depends on conf/, so ``dvc status`` shows an edit there even before params.yaml is
recomposed (and ``dvc repro`` then fails here: params.yaml is stale).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from omegaconf import DictConfig, OmegaConf

from latentstitch.params import ConfigError, _unknown, check_fresh, referenced, validate


def _special(kind: str, value: Any, where: str, file: str) -> None:
    """Key checks that come from code: encoder specs, head kinds, translator keyword arguments,
    and the classes (or factories) an option names with ``_target_``."""
    if kind == "translator":
        if value is None:
            return
        from latentstitch.translate import Translator

        valid = set(inspect.signature(Translator.__init__).parameters) - {"self", "method", "scaling", "seed"}
        _unknown(set(value) - valid, sorted(valid), where, file)
    elif kind == "head":
        from latentstitch.decoders.heads import head_class, head_settings

        try:
            cls = head_class(value)
        except (ValueError, TypeError, ImportError) as err:
            raise ConfigError(f"{where} (file: {file}): {err}") from None
        # n_jobs: how many heads of this kind train at once (latentstitch.fitting), any kind
        accepted = (head_settings(cls) - {"seed", "accelerator"}) | {"n_jobs"}
        _unknown(set(value) - accepted - {"kind", "_target_"}, sorted(accepted | {"kind"}), where, file)
    elif kind == "encoder":
        from latentstitch.encoders.spec import _KNOWN_KEYS

        if "_target_" in value:  # a user's encoder: its class imports, is an Encoder, takes the arguments
            from latentstitch.encoders.registry import encoder_class
            from latentstitch.encoders.spec import load_spec

            try:
                encoder_class(load_spec(value))
            except (ValueError, TypeError) as err:
                raise ConfigError(f"{where} (file: {file}): {err}") from None
            return
        _unknown(set(value) - _KNOWN_KEYS, sorted(_KNOWN_KEYS), where, file)
    elif kind == "autoencoder":  # a user's autoencoder class (_target_)
        from latentstitch.decoders.autoencoder import GRID_SETTINGS, autoencoder_class, autoencoder_settings

        try:
            cls = autoencoder_class(value["_target_"])
        except (ValueError, TypeError) as err:
            raise ConfigError(f"{where} (file: {file}): {err}") from None
        missing = sorted(set(GRID_SETTINGS) - autoencoder_settings(cls))
        if missing:
            raise ConfigError(
                f"{where} (file: {file}): {value['_target_']}.__init__ must take {missing} (set by the suite's grid)"
            )
        accepted = autoencoder_settings(cls) - set(GRID_SETTINGS) - {"accelerator"}
        _unknown(set(value) - accepted - {"_target_"}, sorted(accepted), where, file)
    elif kind == "method":  # a user's translation method: its target builds a Method
        from latentstitch.methods import build_method

        build_method(value, f"{where} (file: {file})")


def validate_plan(cfg: DictConfig) -> None:
    """Fail in seconds, before any work, when the plan cannot run: a dataset, encoder, head or
    autoencoder option the suite names that is not resolved or invalid, an unknown dataset
    source, an encoder whose weights are not available here (checked without loading it), a
    method name neither built in nor the user's own (``latentstitch.methods``)."""
    from latentstitch.config import group_config
    from latentstitch.data.registry import SOURCES
    from latentstitch.encoders.sources import check_available
    from latentstitch.encoders.spec import load_spec
    from latentstitch.methods import check_method_names, register_configured

    register_configured(cfg)
    check_method_names(cfg)
    tiny = bool(cfg.suite.get("tiny", False))
    for group, names in referenced(cfg).items():
        for name in names:
            option = group_config(cfg, group, name)
            if group == "dataset":
                source = option.get("source")
                if source not in SOURCES:
                    raise ConfigError(
                        f"dataset {name!r} (conf/dataset/{name}.yaml): unknown source {source!r}; "
                        f"valid: {', '.join(SOURCES)}"
                    )
            elif group == "encoder":
                spec = load_spec(option)
                if not tiny:
                    check_available(spec)  # a user's encoder (_target_): its class imported above
    for dataset, dcfg in (cfg.suite.get("datasets") or {}).items():
        modality = group_config(cfg, "dataset", dataset).get("modality")
        for encoder in dcfg.get("encoders") or []:
            spec = load_spec(group_config(cfg, "encoder", encoder))
            if spec.modality != modality:
                raise ConfigError(
                    f"suite.datasets.{dataset}.encoders names {encoder!r}, which encodes {spec.modality} "
                    f"(conf/encoder/{encoder}.yaml), but dataset {dataset!r} is {modality}"
                )


def validate_all(cfg: DictConfig) -> None:
    """Every key (schema and code-decided) and the plan (``validate_plan``)."""
    validate(cfg, special=_special)
    validate_plan(cfg)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "--params":
        raise SystemExit("usage: python -m latentstitch.validation --params PARAMS.yaml")
    from latentstitch.data.errors import DatasetUnavailableError
    from latentstitch.encoders.errors import EncoderUnavailableError
    from latentstitch.stages._cli import record_imports

    cfg = OmegaConf.load(argv[1])
    try:
        validate(cfg)
        check_fresh(cfg, argv[1])
        validate_all(cfg)
    except (ConfigError, EncoderUnavailableError, DatasetUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        record_imports()
    names = referenced(cfg)
    print(
        f"{argv[1]}: fresh and valid; suite {cfg.suite.name}: "
        + "; ".join(f"{len(v)} {k}(s)" for k, v in names.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
