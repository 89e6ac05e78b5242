#!/usr/bin/env bash
# The README's main command: set up .venv (idempotent), compose the offline suite into
# params.yaml, and run the DVC pipeline (encode -> heads / autoencoders -> stitch -> report).
#   bash scripts/run_offline.sh                    # offline_quick (the embedded default)
#   bash scripts/run_offline.sh suite=offline_full # any Hydra overrides
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=${WANDB_MODE:-offline}
.venv/bin/python scripts/compose_params.py "$@"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/dvc repro
report=$(.venv/bin/python -c "from omegaconf import OmegaConf; print(OmegaConf.load('params.yaml').paths.results_dir)")/report/report.md
echo "report: $report"
