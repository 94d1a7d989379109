#!/usr/bin/env bash
# Install everything the tests need, lint, then run the tests (slow ones included).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
venv=${SKTRANSFER_VENV:-.venv}
"$venv/bin/python" -m ruff check .
"$venv/bin/python" -m ruff format --check .
status=0
"$venv/bin/python" -m pytest --durations=15 "$@" || status=$?
if [ "$status" = 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
