#!/usr/bin/env bash
# Install the authors' library latentis 0.0.8 for bench_translate.py only, never into .venv.
#
# Its declared dependencies are heavy (faiss-cpu, lightning, fire, ...) and none of them is on
# the code paths the benchmark times (transform/, transform/translate/); those need torch,
# scipy, GitPython and python-dotenv, which .venv already has. So latentis goes --no-deps into
# a --target folder that bench_translate.py puts on sys.path, and it runs on .venv's torch:
# both libraries then use the very same torch and BLAS, which is what a speed comparison needs.
# Idempotent: a second run finds the folder and does nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$here/.venv-latentis"
python="${PYTHON:-$here/../.venv/bin/python}"
if [ -f "$target/latentis/__init__.py" ]; then
    echo "latentis already installed in $target"
    exit 0
fi
"$python" -m pip install --quiet --no-deps --target "$target" "latentis==0.0.8" "backports.strenum"
"$python" - "$target" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from latentis.transform.translate.aligner import Translator  # noqa: F401  (the benchmarked API)
print("latentis 0.0.8 importable from", sys.argv[1])
EOF
