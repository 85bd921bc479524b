#!/usr/bin/env bash
# Installs what elman needs and a fresh machine of this kind lacks (Debian packages), then
# configures and builds into ./build. Idempotent: installs only what is missing.
# Usage: bash tools/setup.sh [extra cmake arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: cmake, a C++ compiler, OpenBLAS, nlohmann-json, CLI11, GoogleTest; oneDNN for
# elman-bench's second CPU peer (the bench only; elman-bench builds without it, saying so).
# Run: python3 with numpy + matplotlib (plots, interop tests). Optional, not installed here
# (large): python3-torch, for fixture generation, the checkpoint round trip with PyTorch (its
# test skips visibly without it) and elman-bench --device cpu's peer; add it with
# ELMAN_EXTRA_PACKAGES=python3-torch.
# Test: clang + its fuzzer runtime (the safetensors fuzz target); patchelf (the GPU bundle's
# $ORIGIN-relative library paths, tools/gpu-bundle.sh).
packages=(cmake g++ make libopenblas-dev nlohmann-json3-dev libcli11-dev googletest libgtest-dev
          libdnnl-dev python3 python3-numpy python3-matplotlib clang libclang-rt-14-dev patchelf
          libopenmpi-dev openmpi-bin  # data-parallel training (libelman_mpi, mpirun)
          ${ELMAN_EXTRA_PACKAGES:-})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The CUDA toolkit (nvcc, cuBLAS; cuDNN for elman-bench) comes with the machine; find nvcc.
if ! command -v nvcc >/dev/null 2>&1; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break
  done
fi
command -v nvcc >/dev/null 2>&1 || {
  echo "setup: nvcc not found: elman needs the CUDA toolkit to build (no GPU is needed to run)" >&2
  exit 1
}

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
