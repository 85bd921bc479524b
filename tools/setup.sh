#!/usr/bin/env bash
# Installs what elman needs and a fresh machine of this kind lacks (Debian packages), then
# configures and builds into ./build with a preset of CMakePresets.json (release, or ci: warnings
# as errors), with CUDA where nvcc is found, else CPU-only (one line says so). Idempotent:
# installs only what is missing.
# Usage: [ELMAN_WITH_CUDA=AUTO|ON|OFF] [ELMAN_PRESET=release|ci] bash tools/setup.sh
#          [extra cmake arguments...]
#        bash tools/setup.sh --packages-only   (install what is missing, build nothing)
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: cmake, a C++ compiler, OpenBLAS, nlohmann-json, CLI11, GoogleTest; oneDNN for
# elman-bench's second CPU peer (the bench only; elman-bench builds without it, saying so).
# Run: python3 with numpy + matplotlib (plots, interop tests). Optional, not installed here
# (large): python3-torch, for fixture generation, the checkpoint round trip with PyTorch (its
# test skips visibly without it) and elman-bench --device cpu's peer; add it with
# ELMAN_EXTRA_PACKAGES=python3-torch.
# Test: clang + its fuzzer runtime (the safetensors fuzz target); patchelf (the GPU bundle's
# $ORIGIN-relative library paths, tools/gpu-bundle.sh); clang-format (tools/check-format.sh).
packages=(cmake g++ make libopenblas-dev nlohmann-json3-dev libcli11-dev googletest libgtest-dev
          libdnnl-dev python3 python3-numpy python3-matplotlib clang libclang-rt-14-dev patchelf
          clang-format
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
[ "${1:-}" = --packages-only ] && exit 0

preset="${ELMAN_PRESET:-release}"
case "$preset" in
  release | ci) ;;
  *) echo "setup: ELMAN_PRESET is '$preset'; expected release or ci (the presets building ./build)" >&2; exit 2 ;;
esac

# The CUDA toolkit (nvcc, cuBLAS; cuDNN for elman-bench) comes with the machine where there is
# one: find nvcc. Without it elman builds CPU-only (ELMAN_WITH_CUDA=OFF); ELMAN_WITH_CUDA=OFF in
# the environment asks for that, ON requires nvcc. The choice is passed to cmake explicitly.
want_cuda=$(echo "${ELMAN_WITH_CUDA:-AUTO}" | tr '[:lower:]' '[:upper:]')
case "$want_cuda" in
  AUTO | ON | OFF) ;;
  *) echo "setup: ELMAN_WITH_CUDA is '$ELMAN_WITH_CUDA'; expected AUTO, ON or OFF" >&2; exit 2 ;;
esac
nvcc_path=""
if [ "$want_cuda" != OFF ]; then
  nvcc_path=$(command -v nvcc || true)
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    [ -z "$nvcc_path" ] && [ -x "$d/nvcc" ] && nvcc_path="$d/nvcc"
  done
fi
if [ -n "$nvcc_path" ]; then
  cuda_args=(-DELMAN_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc_path")
elif [ "$want_cuda" = ON ]; then
  echo "setup: ELMAN_WITH_CUDA=ON but no nvcc on PATH or in /usr/local/cuda*/bin" >&2
  exit 1
else
  why="no nvcc on PATH or in /usr/local/cuda*/bin"
  [ "$want_cuda" = OFF ] && why="ELMAN_WITH_CUDA=OFF"
  echo "setup: building CPU-only, without the CUDA backend ($why)"
  cuda_args=(-DELMAN_WITH_CUDA=OFF)
fi

cmake --preset "$preset" "${cuda_args[@]}" "$@" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
