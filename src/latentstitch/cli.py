"""The ``latentstitch`` command line; one subcommand per job (``translate`` for now)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Sequence

import numpy as np

_ARRAY_SUFFIXES = (".npy", ".safetensors")
_NPY_MAGIC = b"\x93NUMPY"


class CommandError(Exception):
    """A failure the user can fix; its message is one line that names the file and the problem."""


def _read_array(path: str, what: str, key: str | None) -> np.ndarray:
    p = Path(path)
    if p.suffix not in _ARRAY_SUFFIXES:
        raise CommandError(f"{what} {p}: unsupported file type {p.suffix!r}; use {' or '.join(_ARRAY_SUFFIXES)}")
    if p.is_dir():
        raise CommandError(f"{what} {p}: is a directory, expected a file")
    if not p.is_file():
        raise CommandError(f"{what} file not found: {p}")
    try:
        if p.suffix == ".npy":
            with open(p, "rb") as f:
                if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                    raise CommandError(f"{what} {p}: not a .npy file (no NPY header; save it with numpy.save)")
            try:
                return np.load(p, allow_pickle=False)
            except (ValueError, EOFError) as e:  # e.g. data cut short, or an object array
                if "pickle" in str(e):
                    raise CommandError(f"{what} {p}: holds Python objects, not a numeric array") from None
                raise CommandError(f"{what} {p}: unreadable .npy file ({e})") from None
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(p))
        except Exception as e:  # safetensors' own SafetensorError, or a header that is not JSON
            raise CommandError(f"{what} {p}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise CommandError(f"{what} {p}: cannot read it ({e.strerror or e})") from None
    if not tensors:
        raise CommandError(f"{what} {p}: the file holds no tensors")
    if key is None:
        # A latentstitch encodings file holds "encodings" (and "labels"); a bare file, one tensor.
        key = "encodings" if "encodings" in tensors else next(iter(tensors)) if len(tensors) == 1 else None
    if key not in tensors:
        raise CommandError(f"{what} {p}: choose a tensor with --key; it holds {sorted(tensors)}")
    return tensors[key]


def _check_output(path: str, what: str) -> Path:
    """Fail early, before any work, on an output path that can never be written."""
    p = Path(path)
    if what == "output" and p.suffix not in _ARRAY_SUFFIXES:
        raise CommandError(f"output {p}: unsupported file type {p.suffix!r}; use {' or '.join(_ARRAY_SUFFIXES)}")
    if p.is_dir():
        raise CommandError(f"{what} {p}: is a directory, expected a file path")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CommandError(f"{what} {p}: {parent} is a file, not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise CommandError(f"{what} {p}: cannot write into {parent} (permission denied)")
            break
    return p


def _stage(final: Path, what: str, write) -> Path:
    """Write ``final``'s content to a temporary file beside it (``write(tmp)``); the caller
    renames it into place once every output is staged."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
    except OSError as e:
        raise CommandError(f"{what} {final}: cannot write it ({e.strerror or e})") from None
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise CommandError(f"{what} {final}: cannot write it ({e.strerror or e})") from None
        raise
    return Path(tmp)


def _write_array(tmp: Path, suffix: str, array: np.ndarray) -> None:
    if suffix == ".npy":
        with open(tmp, "wb") as f:  # a file object, so np.save does not append ".npy"
            np.save(f, array)
    else:
        from safetensors.numpy import save_file

        save_file({"encodings": np.ascontiguousarray(array)}, str(tmp))


def _translate(args: argparse.Namespace) -> int:
    from latentstitch.translate import Translator

    output = _check_output(args.output, "output")
    saved = _check_output(args.save_translator, "--save-translator") if args.save_translator else None
    if saved is not None and saved.resolve() == output.resolve():
        raise CommandError(f"--save-translator {saved}: the same path as --output")
    x_anchors = _read_array(args.x_anchors, "x anchors", args.key)
    y_anchors = _read_array(args.y_anchors, "y anchors", args.key)
    x = _read_array(args.input, "input", args.key)
    try:
        translator = Translator(
            method=args.method,
            scaling=args.scaling,
            seed=args.seed,
            ddof=args.ddof,
            affine_steps=args.affine_steps,
            affine_lr=args.affine_lr,
        )
    except (TypeError, ValueError) as e:
        raise CommandError(f"settings: {e}") from None
    try:
        translator.fit(x_anchors, y_anchors)
    except (TypeError, ValueError) as e:
        raise CommandError(f"fitting on {args.x_anchors} and {args.y_anchors}: {e}") from None
    try:
        y = translator.transform(x)
    except (TypeError, ValueError) as e:
        raise CommandError(f"translating {args.input}: {e}") from None

    # Outputs last: stage every file beside its destination, then rename them all into place,
    # so a failure anywhere leaves no output written (and old outputs as they were).
    staged: list[tuple[Path, Path]] = []
    try:
        staged.append((_stage(output, "output", lambda tmp: _write_array(tmp, output.suffix, y)), output))
        if saved is not None:
            staged.append((_stage(saved, "--save-translator", translator.save), saved))
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as e:
        raise CommandError(f"writing outputs: {e}") from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from latentstitch.translate import METHODS, SCALINGS

    parser = argparse.ArgumentParser(prog="latentstitch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "translate",
        help="translate encodings from space X into space Y, fitted on parallel anchors",
        description="Fit a Translator on parallel anchors (row i of both files is the same sample) "
        "and translate --input (m, d1) into Y's space (m, d2). Files: .npy or .safetensors.",
    )
    p.add_argument("--method", choices=list(METHODS), default="ortho")
    p.add_argument("--scaling", choices=list(SCALINGS), default="standard")
    p.add_argument("--x-anchors", required=True, help="anchors in the source space X, (n, d1)")
    p.add_argument("--y-anchors", required=True, help="the same anchors in the target space Y, (n, d2)")
    p.add_argument("--input", required=True, help="encodings to translate, (m, d1)")
    p.add_argument("--output", required=True, help="where to write the translation, (m, d2)")
    p.add_argument(
        "--key", default=None, help="tensor name in .safetensors inputs (default: 'encodings' or the only one)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of affine's initialization")
    p.add_argument("--ddof", type=int, default=1, help="std's delta degrees of freedom for standard scaling")
    p.add_argument("--affine-steps", type=int, default=300)
    p.add_argument("--affine-lr", type=float, default=1e-3)
    p.add_argument("--save-translator", default=None, help="also save the fitted translator (.safetensors)")
    p.add_argument("--debug", action="store_true", help="on failure, also print the traceback")
    p.set_defaults(func=_translate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status: 0 ok, 2 for any failure (bad input,
    usage, or an unexpected error), reported as one line on stderr; ``--debug`` adds the
    traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        if args.debug:
            traceback.print_exc()
        message = str(e) if isinstance(e, CommandError) else f"{type(e).__name__}: {e}"
        print(f"latentstitch {args.command}: error: {' '.join(message.split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
