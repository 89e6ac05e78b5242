"""One-time preparation of offline-zoo assets: atomic, idempotent, rebuilt when stale."""

from __future__ import annotations

import io
import zipfile

import pytest

from latentstitch.encoders.sources import prepared_asset, unzip_split_parts


def test_prepared_asset_builds_once_and_rebuilds_when_stale(tmp_path):
    builds = []

    def build(folder):
        builds.append(folder)
        (folder / "weights.bin").write_bytes(b"w" * 10)

    target = tmp_path / "models" / "enc"
    assert prepared_asset(target, "pkg==1", build) == target
    assert prepared_asset(target, "pkg==1", build) == target
    assert len(builds) == 1 and (target / "weights.bin").read_bytes() == b"w" * 10
    prepared_asset(target, "pkg==2", build)
    assert len(builds) == 2
    assert [p.name for p in target.parent.iterdir()] == ["enc"]  # no temporary folders left


def test_interrupted_build_leaves_nothing_behind(tmp_path):
    def dies(folder):
        (folder / "half.bin").write_bytes(b"x")
        raise KeyboardInterrupt

    target = tmp_path / "enc"
    with pytest.raises(KeyboardInterrupt):
        prepared_asset(target, "pkg==1", dies)
    assert list(tmp_path.iterdir()) == []


def _split_zip(tmp_path, members, parts=3):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    step = len(data) // parts + 1
    paths = []
    for k in range(parts):
        path = tmp_path / f"model.zip.{k + 1:03d}"
        path.write_bytes(data[k * step : (k + 1) * step])
        paths.append(path)
    return paths


def test_split_zip_is_joined_and_its_folder_extracted(tmp_path):
    members = {
        "m/config.json": b"{}",
        "m/sub/model.bin": bytes(range(256)) * 50,
        "m/desktop.ini": b"junk",
        "other/readme": b"not ours",
    }
    parts = _split_zip(tmp_path, members)
    dest = tmp_path / "out"
    dest.mkdir()
    unzip_split_parts(parts, "m", dest)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == ["config.json", "sub/model.bin"]
    assert (dest / "sub" / "model.bin").read_bytes() == members["m/sub/model.bin"]


def test_split_zip_refuses_unsafe_paths_and_missing_folders(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ValueError, match="unsafe path"):
        unzip_split_parts(_split_zip(tmp_path, {"m/../../evil": b"x"}), "m", dest)
    with pytest.raises(ValueError, match="no folder 'n/'"):
        unzip_split_parts(_split_zip(tmp_path, {"m/a": b"x"}), "n", dest)
