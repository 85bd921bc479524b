#!/usr/bin/env bash
# README's main-job command: set up and build (tools/setup.sh), then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
if [ -x build/demo/elman-train ]; then
  build/demo/elman-train next-number "$@"
else
  build/elman-example "$@"
fi
