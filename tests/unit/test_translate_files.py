"""Translator files you can trust (issue 14): save records a content hash; load validates the
framing, the record, the hash and every tensor, and raises one ValueError naming the file and
the problem for each malformed file. Edits are made twice where it matters: naively (the hash
catches them) and forged with a recomputed hash (the validation catches them)."""

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_bytes

from latentstitch.translate import Translator
from latentstitch.translate._file import FORMAT, VERSION, content_hash


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 6)), rng.normal(size=(30, 5))
    t = Translator("ridge", "standard").fit(x, y)
    path = tmp_path / "t.safetensors"
    t.save(path)
    return path, t, x


def _split(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    return header, json.loads(header["__metadata__"][FORMAT]), bytearray(data[8 + n :])


def _join(header, body):
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data to 8 bytes
    return struct.pack("<Q", len(raw)) + raw + bytes(body)


def _rewrite(path, *, header=None, record=None, body=None, rehash=False, raw_record=None):
    """Copy ``path`` to a sibling with its header, record or data edited in place."""
    h, r, b = _split(path)
    if header:
        header(h)
    if record:
        record(r)
    if body:
        body(h, b)
    if rehash:  # forge: a hash that matches the edit
        h["__metadata__"][FORMAT] = json.dumps(r)
        r["sha256"] = content_hash(r["settings"], load_bytes(_join(h, b)))
    h["__metadata__"][FORMAT] = raw_record if raw_record is not None else json.dumps(r)
    out = path.with_name("edited.safetensors")
    out.write_bytes(_join(h, b))
    return out


def _load_fails(path, match):
    with pytest.raises(ValueError, match=rf"^{path}: {match}"):
        Translator.load(path)


def test_round_trip_and_hash_recorded(saved):
    path, t, x = saved
    _, record, _ = _split(path)
    assert record["version"] == VERSION and len(record["sha256"]) == 64
    assert record["settings"] == t.get_params()
    np.testing.assert_array_equal(Translator.load(path).transform(x), t.transform(x))
    # saving is deterministic: same translator, same bytes
    t.save(path.with_name("again.safetensors"))
    assert path.with_name("again.safetensors").read_bytes() == path.read_bytes()


def _set_scaling(r):
    r["settings"]["scaling"] = "l2"


def test_header_edited_to_another_scaling(saved):
    path, *_ = saved
    _load_fails(_rewrite(path, record=_set_scaling), "content hash mismatch")
    _load_fails(
        _rewrite(path, record=_set_scaling, rehash=True),
        r"tensor 'scaling_x.inverse_scale_' has shape \(6,\), expected \(\)",
    )


def _relabel(h):
    h["matrix"]["dtype"] = "I64"


def test_relabelled_dtype(saved):
    path, *_ = saved
    _load_fails(_rewrite(path, header=_relabel), "content hash mismatch")
    _load_fails(
        _rewrite(path, header=_relabel, rehash=True), r"tensor 'matrix' has dtype torch.int64, expected torch.float64"
    )


def _nan_into_matrix(h, b):
    start = h["matrix"]["data_offsets"][0]
    b[start : start + 8] = struct.pack("<d", float("nan"))


def test_nan_written_into_the_data(saved):
    path, *_ = saved
    _load_fails(_rewrite(path, body=_nan_into_matrix), "content hash mismatch")
    _load_fails(_rewrite(path, body=_nan_into_matrix, rehash=True), r"tensor 'matrix' holds NaN or inf values")


def test_missing_and_unknown_settings_keys(saved):
    path, *_ = saved
    _load_fails(_rewrite(path, record=lambda r: r["settings"].pop("ddof")), "content hash mismatch")
    _load_fails(
        _rewrite(path, record=lambda r: r["settings"].pop("ddof"), rehash=True),
        r"settings lack 'ddof' \(expected affine_lr, affine_steps, ddof, fit_dtype, method, scaling, seed\)",
    )
    _load_fails(
        _rewrite(path, record=lambda r: r["settings"].update(alpha=1), rehash=True), r"settings have unknown 'alpha'"
    )
    _load_fails(
        _rewrite(path, record=lambda r: r["settings"].update(method="bogus"), rehash=True),
        r"invalid settings: unknown method 'bogus'",
    )
    _load_fails(
        _rewrite(path, record=lambda r: r["settings"].update(seed="3"), rehash=True),
        r"invalid settings: seed must be an int, got '3'",
    )


def test_record_of_the_wrong_type(saved):
    path, *_ = saved
    _load_fails(
        _rewrite(path, raw_record="[1, 2]"),
        r"the 'latentstitch.translate.Translator' record is a list, "
        "expected a JSON object",
    )
    _load_fails(
        _rewrite(path, raw_record="{not json"), r"the 'latentstitch.translate.Translator' record is not valid JSON"
    )
    _load_fails(
        _rewrite(path, record=lambda r: r.update(settings=["method", "ortho"])),
        r"record field 'settings' is \['method', 'ortho'\], expected a dict",
    )
    _load_fails(_rewrite(path, record=lambda r: r.pop("sha256")), r"record field 'sha256' is None, expected a str")


def test_header_metadata_of_the_wrong_type(saved):
    path, *_ = saved

    def metadata_list(h):
        h["__metadata__"] = [h["__metadata__"][FORMAT]]

    h, _, b = _split(path)
    metadata_list(h)
    out = path.with_name("edited.safetensors")
    out.write_bytes(_join(h, b))
    _load_fails(out, r"the header's __metadata__ is a list, expected a JSON object")


def test_version_as_a_string_and_an_old_version(saved):
    path, *_ = saved
    _load_fails(
        _rewrite(path, record=lambda r: r.update(version="2")), r"format version '2' is a str, expected the integer 2"
    )
    _load_fails(
        _rewrite(path, record=lambda r: r.update(version=1)),
        r"format version 1, expected 2 \(written by an older latentstitch: fit and save it again\)",
    )
    _load_fails(_rewrite(path, record=lambda r: r.update(version=True)), r"format version True is a bool")


def _swap_shape(h):
    h["matrix"]["shape"] = [5, 6]


def test_edited_shape(saved):
    path, *_ = saved
    _load_fails(_rewrite(path, header=_swap_shape), "content hash mismatch")
    _load_fails(_rewrite(path, header=_swap_shape, rehash=True), r"tensor 'bias' has shape \(5,\), expected \(6,\)")
    # a shape that no longer matches the bytes: safetensors' own framing error, named
    _load_fails(_rewrite(path, header=lambda h: h["matrix"].update(shape=[7, 5])), r"corrupt tensor data \(")


def test_truncated_empty_and_foreign_files(saved, tmp_path):
    path, *_ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    _load_fails(cut, r"corrupt tensor data|truncated")
    cut.write_bytes(data[:100])
    _load_fails(cut, r"truncated or not a safetensors file \(header of \d+ bytes, file of 100\)")
    cut.write_bytes(b"")
    _load_fails(cut, r"not a safetensors file \(0 bytes, truncated or empty\)")
    cut.write_bytes(b"this is a text file, not tensors\n")
    _load_fails(cut, r"truncated or not a safetensors file")
    cut.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{x")
    _load_fails(cut, r"not a safetensors file \(unreadable header")


def _forge(path, edit):
    """A well-framed file with ``edit`` applied to its tensors and a matching hash."""
    from safetensors.torch import save_file

    _, record, _ = _split(path)
    tensors = load_bytes(path.read_bytes())
    edit(tensors)
    record["sha256"] = content_hash(record["settings"], tensors)
    out = path.with_name("forged.safetensors")
    save_file(tensors, str(out), metadata={FORMAT: json.dumps(record)})
    return out


def test_missing_extra_and_bad_tensors(saved):
    path, *_ = saved
    _load_fails(_forge(path, lambda t: t.pop("bias")), r"tensor 'bias' is missing")
    _load_fails(_forge(path, lambda t: t.pop("alpha")), r"tensor 'alpha' is missing \(a ridge translator")
    _load_fails(
        _forge(path, lambda t: t.update(extra=torch.zeros(2, dtype=torch.float64))), r"unexpected tensors \['extra'\]"
    )
    _load_fails(
        _forge(path, lambda t: t["scaling_y.scale_"].__setitem__(0, -1.0)), r"scaling_y has non-positive scales"
    )
    _load_fails(
        _forge(path, lambda t: t.update(matrix=t["matrix"].flatten())), r"tensor 'matrix' must be 2-D \(d1, d2\)"
    )
    _load_fails(
        _forge(path, lambda t: t.update(alpha=torch.tensor(float("nan"), dtype=torch.float64))),
        r"tensor 'alpha' holds NaN values",
    )
    _load_fails(
        _forge(path, lambda t: t.update(bias=t["bias"].float())),
        r"tensor 'bias' has dtype torch.float32, expected torch.float64",
    )


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="translator file not found: .*nope.safetensors"):
        Translator.load(tmp_path / "nope.safetensors")


def test_every_method_and_scaling_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 6)), rng.normal(size=(30, 6))
    for method in ("absolute", "ortho", "l-ortho", "linear", "ridge", "affine"):
        for scaling in ("standard", "l2", "none"):
            t = Translator(method, scaling, affine_steps=5).fit(x, y)
            t.save(tmp_path / "t.safetensors")
            back = Translator.load(tmp_path / "t.safetensors")
            assert torch.equal(back.coef_, t.coef_) and back.get_params() == t.get_params()
            assert pickle.loads(pickle.dumps(back)).get_params() == t.get_params()
