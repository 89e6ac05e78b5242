"""What the stitch stage runs for one dataset: anchors and stitch settings, resolved from the config.

A suite separates what is *built* (``suite.datasets``: encoders, heads, autoencoders, subsets;
read by encode / train_heads / train_autoencoders) from how it is *stitched* (``suite.anchors``
and ``suite.stitch``; read by stitch and report only). dvc.yaml lists only the former as the
training stages' params, so changing an anchor count, a method or a scaling reruns stitch and
report and nothing else.

Resolution, innermost last wins:

1. ``suite.anchors`` ({num, seeds, stratified}) and ``suite.stitch`` (methods, scalings,
   retrieval_queries, translator);
2. ``suite.stitch.datasets.<dataset>`` (any of ``anchors``, ``methods``, ``scalings``,
   ``retrieval_queries``, ``translator``);
3. for reconstruction: ``suite.stitch.datasets.<dataset>.autoencoders`` (same keys);
4. the sweep keys at the top of the config, for Hydra multirun:
   ``translator=<conf/translator option>`` (one method and its settings),
   ``scaling=<conf/scaling option>``, ``anchors=<int or list>``.

A method may be the user's own (``conf/translator/<name>.yaml`` with ``_target_``;
``latentstitch.methods``): ``stitch_settings`` registers it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf

from latentstitch.methods import register_configured
from latentstitch.params import TARGET
from latentstitch.stitching import BASELINES, StitchSettings
from latentstitch.translate import BUILTIN_METHODS

# the baselines and every built-in translation method (latentstitch.translate.METHODS)
DEFAULT_METHODS = [*BASELINES, *(m for m in BUILTIN_METHODS if m not in BASELINES)]
DEFAULT_SCALINGS = ["standard", "l2"]
_SCOPE_KEYS = {"anchors", "methods", "scalings", "retrieval_queries", "translator"}
_ANCHOR_KEYS = {"num", "seeds", "stratified"}

Task = Literal["classification", "reconstruction"]


@dataclass(frozen=True)
class AnchorPlan:
    """Anchor counts and seeds of a stitch run; the indices are
    ``latentstitch.data.sample_anchors(train labels, count, seed, stratified=stratified)``."""

    counts: list[int]
    seeds: list[int]
    stratified: bool


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _scopes(cfg: DictConfig, dataset: str, task: Task) -> list[tuple[str, dict]]:
    stitch_cfg = _plain(OmegaConf.select(cfg, "suite.stitch")) or {}
    base = {k: v for k, v in stitch_cfg.items() if k != "datasets"}
    anchors = _plain(OmegaConf.select(cfg, "suite.anchors"))
    if anchors is not None:
        base["anchors"] = anchors
    scopes = [("suite.stitch", base)]
    per_dataset = (stitch_cfg.get("datasets") or {}).get(dataset) or {}
    scopes.append((f"suite.stitch.datasets.{dataset}", {k: v for k, v in per_dataset.items() if k != "autoencoders"}))
    if task == "reconstruction":
        scopes.append((f"suite.stitch.datasets.{dataset}.autoencoders", per_dataset.get("autoencoders") or {}))
    for where, scope in scopes[1:]:
        unknown = set(scope) - _SCOPE_KEYS
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)} in {where}; valid: {', '.join(sorted(_SCOPE_KEYS))}")
    return scopes


def _resolved(cfg: DictConfig, dataset: str, task: Task) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, scope in _scopes(cfg, dataset, task):
        for key, value in scope.items():
            if key in ("anchors", "translator") and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def _as_ints(value: Any, what: str) -> list[int]:
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an int or a list of ints, got {value!r}") from None


def anchor_plan(cfg: DictConfig, dataset: str, task: Task = "classification") -> AnchorPlan:
    """The anchor counts, seeds and stratification of ``dataset``'s ``task`` (module docstring)."""
    anchors = _resolved(cfg, dataset, task).get("anchors")
    if not isinstance(anchors, dict) or "num" not in anchors or "seeds" not in anchors:
        raise ValueError(
            "the suite needs anchors: {num: [counts], seeds: [seeds]} (suite.anchors, or "
            f"suite.stitch.datasets.{dataset}.anchors), e.g. `anchors: {{num: [1000], seeds: [0, 1, 2]}}`"
        )
    unknown = set(anchors) - _ANCHOR_KEYS
    if unknown:
        raise ValueError(f"unknown anchors key(s) {sorted(unknown)} for {dataset}; valid: num, seeds, stratified")
    counts = _as_ints(anchors["num"], "anchors.num")
    sweep = OmegaConf.select(cfg, "anchors")
    if sweep is not None:
        counts = _as_ints(_plain(sweep), "the sweep key `anchors`")
    return AnchorPlan(counts, _as_ints(anchors["seeds"], "anchors.seeds"), bool(anchors.get("stratified", False)))


def _sweep_option(cfg: DictConfig, key: str, name_key: str) -> tuple[str, dict[str, Any]] | None:
    """The sweep option chosen for ``key`` (conf/translator, conf/scaling): its name and the
    rest of its settings (Translator keyword arguments, e.g. affine_steps, ddof); None if unset."""
    option = _plain(OmegaConf.select(cfg, key))
    if option is None:
        return None
    option = dict(option)
    if name_key not in option:
        raise ValueError(f"the {key} option needs a `{name_key}`, got {option}")
    if TARGET in option:  # a user's method: the other keys are its factory's arguments
        return option[name_key], {}
    return option.pop(name_key), option


def stitch_settings(cfg: DictConfig, dataset: str, task: Task = "classification") -> StitchSettings:
    """The ``StitchSettings`` of ``dataset``'s ``task``, anchors included (module docstring)."""
    register_configured(cfg)
    merged = _resolved(cfg, dataset, task)
    plan = anchor_plan(cfg, dataset, task)
    methods = list(merged.get("methods", DEFAULT_METHODS))
    scalings = list(merged.get("scalings", DEFAULT_SCALINGS))
    translator_kwargs = dict(merged.get("translator") or {})
    translator = _sweep_option(cfg, "translator", "method")
    if translator is not None:
        methods = [translator[0]]
        translator_kwargs.update(translator[1])
    scaling = _sweep_option(cfg, "scaling", "name")
    if scaling is not None:
        scalings = [scaling[0]]
        translator_kwargs.update(scaling[1])
    return StitchSettings(
        methods=methods,
        scalings=scalings,
        anchor_counts=plan.counts,
        seeds=plan.seeds,
        retrieval_queries=int(merged.get("retrieval_queries", 1000)),
        translator_kwargs=translator_kwargs,
    )


def wants_relative(cfg: DictConfig, dataset: str) -> bool:
    """Whether ``dataset``'s classification stitching runs the ``relative`` baseline."""
    return "relative" in stitch_settings(cfg, dataset, "classification").methods


def autoencoder_subset(dcfg: Any) -> dict | None:
    """The subset the autoencoders of a suite dataset train and test on: their own
    ``autoencoders.subset`` when set (null: the whole dataset), else the dataset's ``subset``
    (what the encoders see). Autoencoders are cheap next to pretrained encoders, so a suite
    may train them on all of a dataset whose encodings it subsamples."""
    grid = dcfg.get("autoencoders") or {}
    subset = grid["subset"] if "subset" in grid else dcfg.get("subset")
    return OmegaConf.to_container(subset, resolve=True) if OmegaConf.is_config(subset) else subset


def autoencoder_ids(grid: Any, l2: bool) -> list[str]:
    """The ids of one decoder family (plain or L2 input) of a suite dataset's autoencoder grid."""
    from latentstitch.layout import autoencoder_id

    return [autoencoder_id(int(b), int(s), bool(l2)) for b in grid.bottlenecks for s in grid.seeds]
