#!/usr/bin/env bash
# README's test command: set up and build (tools/setup.sh), then run the whole test suite.
# GPU tests skip, visibly, where no CUDA device is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)"
