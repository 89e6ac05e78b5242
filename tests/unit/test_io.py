"""The encodings cache format and atomic writes."""

import os

import numpy as np
import pytest

from latentstitch.io import atomic_path, load_encodings, read_encodings_meta, save_encodings


def test_encodings_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=7)
    path = tmp_path / "d" / "e" / "train.safetensors"
    save_encodings(path, x, y, {"encoder": "e", "revision": "abc"})
    x2, y2, meta = load_encodings(path)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert meta == read_encodings_meta(path)
    assert (meta["count"], meta["dim"], meta["encoder"]) == (7, 3, "e")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_save_encodings_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match=r"2-D"):
        save_encodings(tmp_path / "a.safetensors", np.zeros(3), np.zeros(3), {})
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        save_encodings(tmp_path / "a.safetensors", np.zeros((4, 2)), np.zeros(3), {})


def test_load_encodings_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="encode stage"):
        load_encodings(tmp_path / "nope.safetensors")
    from safetensors.numpy import save_file

    save_file({"encodings": np.zeros((2, 2), np.float32)}, str(tmp_path / "f.safetensors"))
    with pytest.raises(ValueError, match="not a latentstitch encodings file"):
        load_encodings(tmp_path / "f.safetensors")


def test_atomic_path_keeps_old_content_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
