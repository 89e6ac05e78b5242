"""Compose conf/ into params.yaml, the config DVC tracks, and generate dvc.yaml from the
pipeline's declaration (src/latentstitch/pipeline.py). Never edit either by hand.

    python scripts/compose_params.py [hydra overrides...]      # e.g. suite=offline_full
    python scripts/compose_params.py --check                   # exit 1 if either is stale

params.yaml holds everything that decides a result: the suite, and every dataset, encoder,
head and autoencoder option it names, resolved from conf/<group>/ (``dvc params diff`` shows
any change), plus a ``composed`` record (the overrides and a hash of the composition) by which
every stage checks at start that conf/ has not changed since. Unknown keys anywhere are an
error naming the key, the file and the valid keys (``latentstitch.params``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# This checkout's conf/, params.yaml, dvc.yaml and package (not an installed one: a copy of the
# repo composes its own).
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LATENTSTITCH_CONF_DIR", str(ROOT / "conf"))
sys.path.insert(0, str(ROOT / "src"))

from latentstitch.io import write_text_atomic  # noqa: E402 (after sys.path)
from latentstitch.params import ConfigError, check_fresh, compose, render  # noqa: E402
from latentstitch.pipeline import dvc_yaml  # noqa: E402


def compose_params(overrides: list[str]) -> str:
    return render(compose(overrides), overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail if dvc.yaml is not what the pipeline declares or conf/ changed since params.yaml",
    )
    parser.add_argument("--output", default=str(ROOT / "params.yaml"))
    parser.add_argument("--dvc-yaml", default=None, help="default: dvc.yaml beside the output")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    args.dvc_yaml = args.dvc_yaml or str(Path(args.output).parent / "dvc.yaml")
    try:
        if args.check:
            from omegaconf import OmegaConf

            stale = []
            dvc = Path(args.dvc_yaml)
            if not dvc.exists() or dvc.read_text() != dvc_yaml():
                stale.append(f"{dvc} is stale (not what src/latentstitch/pipeline.py declares)")
            out = Path(args.output)
            if not out.exists():
                stale.append(f"{out} is missing")
            else:
                try:
                    check_fresh(OmegaConf.load(out), str(out))
                except ConfigError as err:
                    stale.append(str(err))
            if stale:
                print("\n".join(stale) + "\nrun: python scripts/compose_params.py [overrides]", file=sys.stderr)
                return 1
            return 0
        text = compose_params(args.overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_text_atomic(Path(args.output), text)
    write_text_atomic(Path(args.dvc_yaml), dvc_yaml())
    print(f"wrote {args.output} and {args.dvc_yaml}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
