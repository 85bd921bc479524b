#!/usr/bin/env bash
# README's test command: set up and build (tools/setup.sh), then
#   1. the CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer, built CPU-only
#      (build-asan, ELMAN_WITH_CUDA=OFF),
#   2. the safetensors fuzz target for a bounded time (tools/fuzz.sh, 60 s),
#   3. the GPU check rehearsed without a GPU (tools/gpu-preflight.sh: bundles the release build),
#      where the release build has CUDA,
#   4. the whole test suite on the release build (build: with CUDA where nvcc is found, else
#      CPU-only), last, so its summary closes the log.
# GPU tests skip, visibly, where no CUDA device is present or the build has no CUDA.
# ELMAN_TEST_QUICK=1 runs step 4 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
jobs="$(nproc)"

if [ "${ELMAN_TEST_QUICK:-0}" != "1" ]; then
  echo "== test: the CPU suite under ASan + UBSan, a CPU-only build (build-asan)"
  # ELMAN_WITH_CUDA=OFF: the sanitizers see the CPU only anyway, so this build is also CI's
  # check of the CPU-only configuration, its installed package consumed by examples/consumer
  # (consumer_find_package, built with the same sanitizer flags).
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DELMAN_SANITIZE=ON \
    -DELMAN_WITH_CUDA=OFF -DELMAN_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  # allocator_may_return_null=1: a test asks for a 4 PB tensor and expects elman::Error.
  # The full log stays in build-asan/ctest.log; the summary (and any failure) is printed.
  if ! (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$jobs" >ctest.log 2>&1); then
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
cd build
ctest --output-on-failure -j"$jobs"
