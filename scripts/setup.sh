#!/usr/bin/env bash
# Create or update .venv with the pinned versions (constraints.txt). Idempotent: when nothing
# that decides the environment changed since the last successful run, it exits in seconds.
#   bash scripts/setup.sh             # everything: library, suites, offline zoo, tests
#   LATENTSTITCH_NO_ZOO=1 bash scripts/setup.sh   # skip the offline zoo (paper suite machines)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VENV:-.venv}
STAMP="$VENV/.setup-stamp"
want=$( { cat pyproject.toml constraints.txt requirements/offline-zoo.txt; echo "zoo=${LATENTSTITCH_NO_ZOO:-0}"; } | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "import latentstitch" 2>/dev/null; then
    echo "setup: $VENV is up to date"
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# pip finds torch/torchvision on local disk where the machine has them (pip.conf find-links),
# else on PyPI; uv and poetry would not look there, so plain pip it is.
"${PIP[@]}" install -q -c constraints.txt -e ".[suite,offline,dev]"
if [ "${LATENTSTITCH_NO_ZOO:-0}" != "1" ]; then
    "${PIP[@]}" install -q --no-deps -c constraints.txt -r requirements/offline-zoo.txt
    # Full Fashion-MNIST (60k/10k idx files) comes from Debian.
    if [ ! -d /usr/share/datasets/fashion-mnist ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
        else
            echo "setup: note: Fashion-MNIST idx files missing; install Debian's dataset-fashion-mnist (as root)" >&2
        fi
    fi
fi
echo "$want" > "$STAMP"
echo "setup: $VENV ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
