#!/usr/bin/env bash
# GPU check (issue 17): the offline zoo encodes a slice of Fashion-MNIST and BBC News on cuda
# and on the CPU, the two are compared (tolerance: row relative L2 error <= 5e-3), and the
# stitching engine runs on cuda against its CPU path. Under 5 minutes on a GPU machine.
#
#   bash benchmarks/gpu_check.sh                    # on a GPU machine; writes benchmarks/results/gpu_check.json
#   bash benchmarks/gpu_check.sh --dry              # anywhere: the same code CPU vs CPU, small slice
#
# Without a GPU (and without --dry) it says so and exits 0. Extra arguments go to
# benchmarks/gpu_check.py (--images, --texts, --batch-size, --tolerance, --out).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if [[ " $* " == *" --dry "* ]]; then
  # the dry run is a check of the script: a small slice, one thread each side
  exec timeout 600 "$PY" benchmarks/gpu_check.py --images 64 --texts 64 --batch-size 32 "$@"
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
  echo "gpu_check: nvidia-smi not found (no NVIDIA driver on this machine)"
fi
exec timeout 300 "$PY" benchmarks/gpu_check.py --out benchmarks/results/gpu_check.json "$@"
