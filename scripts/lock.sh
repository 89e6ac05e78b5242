#!/usr/bin/env bash
# Regenerate constraints.txt: a clean venv without constraints, then pip freeze.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -e ".[suite,offline,dev]"
"$tmp/venv/bin/pip" install -q --no-deps -r requirements/offline-zoo.txt
{
    echo "# Exact versions for a fresh machine (pip install -c constraints.txt ...), from a clean"
    echo "# install of .[suite,offline,dev] + requirements/offline-zoo.txt on Python 3.11, x86_64."
    echo "# The only place with exact pins (pyproject.toml has bounds). Regenerate: scripts/lock.sh"
    "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^latentstitch'
} > constraints.txt
echo "wrote constraints.txt"
