"""The ``latentstitch`` command line; one subcommand per job (``translate`` for now)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

_ARRAY_SUFFIXES = (".npy", ".safetensors")


def _read_array(path: str, what: str, key: str | None) -> np.ndarray:
    p = Path(path)
    if p.suffix not in _ARRAY_SUFFIXES:
        raise ValueError(f"{what} {p}: unsupported file type {p.suffix!r}; use {' or '.join(_ARRAY_SUFFIXES)}")
    if not p.is_file():
        raise FileNotFoundError(f"{what} file not found: {p}")
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    from safetensors.numpy import load_file

    tensors = load_file(str(p))
    if key is None:
        # A latentstitch encodings file holds "encodings" (and "labels"); a bare file, one tensor.
        key = "encodings" if "encodings" in tensors else next(iter(tensors)) if len(tensors) == 1 else None
    if key not in tensors:
        raise ValueError(f"{what} {p}: choose a tensor with --key; it holds {sorted(tensors)}")
    return tensors[key]


def _write_array(path: str, array: np.ndarray) -> None:
    from latentstitch.io import atomic_path

    p = Path(path)
    if p.suffix not in _ARRAY_SUFFIXES:
        raise ValueError(f"output {p}: unsupported file type {p.suffix!r}; use {' or '.join(_ARRAY_SUFFIXES)}")
    with atomic_path(p) as tmp:
        if p.suffix == ".npy":
            with open(tmp, "wb") as f:  # a file object, so np.save does not append ".npy"
                np.save(f, array)
        else:
            from safetensors.numpy import save_file

            save_file({"encodings": np.ascontiguousarray(array)}, str(tmp))


def _translate(args: argparse.Namespace) -> int:
    from latentstitch.translate import Translator

    x_anchors = _read_array(args.x_anchors, "x anchors", args.key)
    y_anchors = _read_array(args.y_anchors, "y anchors", args.key)
    x = _read_array(args.input, "input", args.key)
    translator = Translator(
        method=args.method,
        scaling=args.scaling,
        seed=args.seed,
        ddof=args.ddof,
        affine_steps=args.affine_steps,
        affine_lr=args.affine_lr,
    ).fit(x_anchors, y_anchors)
    _write_array(args.output, translator.transform(x))
    if args.save_translator:
        translator.save(args.save_translator)
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
    p.set_defaults(func=_translate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input or usage)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, TypeError) as e:
        print(f"latentstitch {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
