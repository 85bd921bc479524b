#!/usr/bin/env bash
# README's test command: the format check first (tools/check-format.sh, it fails fast), set up
# and build (tools/setup.sh, the ci preset: warnings as errors), then
#   1. the CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer, built CPU-only
#      (the asan preset: build-asan, ELMAN_WITH_CUDA=OFF),
#   2. the safetensors fuzz target for a bounded time (tools/fuzz.sh, 60 s),
#   3. the GPU check rehearsed without a GPU (tools/gpu-preflight.sh: bundles the release build),
#      where the release build has CUDA,
#   4. the whole test suite on the release build (build: with CUDA where nvcc is found, else
#      CPU-only), last, so its summary closes the log.
# GPU tests skip, visibly, where no CUDA device is present or the build has no CUDA.
# ELMAN_TEST_QUICK=1 runs step 4 only. The presets are CMakePresets.json's; ELMAN_PRESET=release
# builds ./build without warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --packages-only
echo "== test: the format of the C++ and CUDA files (tools/check-format.sh)"
bash tools/check-format.sh
export ELMAN_PRESET="${ELMAN_PRESET:-ci}"  # tools/gpu-bundle.sh's setup.sh call builds it too
bash tools/setup.sh
jobs="$(nproc)"

if [ "${ELMAN_TEST_QUICK:-0}" != "1" ]; then
  echo "== test: the CPU suite under ASan + UBSan, a CPU-only build (build-asan)"
  # ELMAN_WITH_CUDA=OFF: the sanitizers see the CPU only anyway, so this build is also CI's
  # check of the CPU-only configuration, its installed package consumed by examples/consumer
  # (consumer_find_package, built with the same sanitizer flags).
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j"$jobs"
  # The asan test preset sets ASAN_OPTIONS and UBSAN_OPTIONS (allocator_may_return_null=1: a
  # test asks for a 4 PB tensor and expects elman::Error).
  # The full log stays in build-asan/ctest.log; the summary (and any failure) is printed.
  if ! ctest --preset asan -j"$jobs" >build-asan/ctest.log 2>&1; then
    cat build-asan/ctest.log
    exit 1
  fi
  grep -E "tests passed|Total Test time" build-asan/ctest.log

  echo "== test: fuzzing the safetensors reader for 60 s (tools/fuzz.sh)"
  bash tools/fuzz.sh 60 build-fuzz 2>&1 | tail -n 15

  # The GPU bundle is made of the CUDA build; a CPU-only one has nothing to take to a GPU.
  if grep -qx 'ELMAN_WITH_CUDA:STRING=ON' build/CMakeCache.txt; then
    echo "== test: the GPU check rehearsed without a GPU (tools/gpu-preflight.sh)"
    bash tools/gpu-preflight.sh
  else
    echo "== test: no GPU check rehearsal: the release build is CPU-only"
  fi
fi

echo "== test: the whole suite (build)"
ctest --preset "$ELMAN_PRESET" -j"$jobs"
