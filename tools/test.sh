#!/usr/bin/env bash
# README's test command: set up and build (tools/setup.sh), then
#   1. the CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan),
#   2. the safetensors fuzz target for a bounded time (tools/fuzz.sh, 60 s),
#   3. the GPU check rehearsed without a GPU (tools/gpu-preflight.sh: bundles the release build),
#   4. the whole test suite on the release build (build), last, so its summary closes the log.
# GPU tests skip, visibly, where no CUDA device is present.
# ELMAN_TEST_QUICK=1 runs step 4 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
jobs="$(nproc)"

if [ "${ELMAN_TEST_QUICK:-0}" != "1" ]; then
  echo "== test: the CPU suite under ASan + UBSan (build-asan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DELMAN_SANITIZE=ON \
    -DELMAN_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  # protect_shadow_gap=0: the CUDA runtime maps memory where ASan's shadow gap would be.
  # allocator_may_return_null=1: a test asks for a 4 PB tensor and expects elman::Error.
  # The consumer test builds an uninstrumented program against the instrumented library:
  # it runs in the release suite below.
  # The full log stays in build-asan/ctest.log; the summary (and any failure) is printed.
  if ! (cd build-asan &&
    ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$jobs" -E '^consumer_find_package$' >ctest.log 2>&1); then
    cat build-asan/ctest.log
    exit 1
  fi
  grep -E "tests passed|Total Test time" build-asan/ctest.log

  echo "== test: fuzzing the safetensors reader for 60 s (tools/fuzz.sh)"
  bash tools/fuzz.sh 60 build-fuzz 2>&1 | tail -n 15

  echo "== test: the GPU check rehearsed without a GPU (tools/gpu-preflight.sh)"
  bash tools/gpu-preflight.sh
fi

echo "== test: the whole suite (build)"
cd build
ctest --output-on-failure -j"$jobs"
