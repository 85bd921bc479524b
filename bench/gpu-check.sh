#!/usr/bin/env bash
# gpu-check.sh: on a machine with a GPU, from a build made elsewhere and carried there, runs the
# test binaries, the same under compute-sanitizer, and `elman-bench --quick`; logs to LOGDIR.
#
# Usage: bash bench/gpu-check.sh LOGDIR [BUILD_DIR]        (BUILD_DIR defaults to <repo>/build)
#
# With the device tool (no GoogleTest, no compiler and no internet needed on the GPU machine):
#   here:   cmake -S . -B build -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build build -j2
#   there:  run(command="bash bench/gpu-check.sh $OUT/logs", carry=["build"])
# The logs come back under the run's files: summary.txt first, then one log per step.
#
# What it does, each step logged, the exit status non-zero if any step failed:
#   1. finds the shared libraries the build needs and the machine lacks in its default paths
#      (cuDNN, which elman-bench dlopens; cuBLAS, which libelman.so links), searching python3's
#      site-packages (PyTorch's wheels: nvidia/*/lib, torch/lib), CUDA and conda directories,
#      and puts their directories and the build's on LD_LIBRARY_PATH;
#   2. runs every GoogleTest binary of the build (named *_test or *_tests, as elman_add_gtest's
#      are; all their tests; a GPU test that skips with "no CUDA device" or "built without
#      CUDA" on this GPU machine counts as a failure);
#   3. runs them again under compute-sanitizer --tool memcheck, racecheck, initcheck and synccheck
#      (ELMAN_SANITIZE_FILTER narrows the tests, a --gtest_filter pattern, default all;
#       ELMAN_SANITIZER_TOOLS picks the tools; ELMAN_SANITIZER_TIMEOUT bounds each run, default
#       300 s; ELMAN_SKIP_SANITIZER=1 skips this step and says so). The device tool allows 600 s
#       a command: if the whole check does not fit, split it, e.g.
#         ELMAN_SANITIZER_TOOLS="memcheck" bash bench/gpu-check.sh $OUT/logs-memcheck
#         ELMAN_SANITIZER_TOOLS="racecheck initcheck synccheck" bash bench/gpu-check.sh $OUT/logs-rest
#   4. runs elman-bench --quick --json LOGDIR/bench-quick.json.
set -u -o pipefail

if [ $# -lt 1 ]; then
  echo "usage: bash bench/gpu-check.sh LOGDIR [BUILD_DIR]" >&2
  exit 2
fi
LOGDIR=$1
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${2:-$REPO/build}" 2>/dev/null && pwd) || {
  echo "gpu-check: build folder '${2:-$REPO/build}' not found (build with cmake -B build first)" >&2
  exit 2
}
mkdir -p "$LOGDIR" || exit 2
LOGDIR=$(cd "$LOGDIR" && pwd)
SUMMARY=$LOGDIR/summary.txt
: >"$SUMMARY"
FAILED=0
say() { echo "$*" | tee -a "$SUMMARY"; }
fail() { say "FAIL: $*"; FAILED=1; }

say "gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ) repo=$REPO build=$BUILD"
{ nvidia-smi 2>&1 || echo "nvidia-smi not available"; } >"$LOGDIR/nvidia-smi.log"
say "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"

# ---- 1. libraries --------------------------------------------------------------------------
CANDIDATE_DIRS=()
if command -v python3 >/dev/null; then
  while IFS= read -r sp; do
    [ -d "$sp" ] || continue
    for d in "$sp"/nvidia/*/lib "$sp"/torch/lib; do [ -d "$d" ] && CANDIDATE_DIRS+=("$d"); done
  done < <(python3 -c 'import site, sys
for p in site.getsitepackages() + [site.getusersitepackages()] + sys.path: print(p)' 2>/dev/null | sort -u)
fi
for d in /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 /usr/local/cuda/targets/*/lib \
         /usr/lib/x86_64-linux-gnu /usr/lib64 /opt/conda/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib; do
  [ -d "$d" ] && CANDIDATE_DIRS+=("$d")
done
find_lib() {  # prints the first candidate directory holding file $1
  for d in "${CANDIDATE_DIRS[@]}"; do
    if [ -e "$d/$1" ]; then echo "$d"; return 0; fi
  done
  return 1
}
ORIGINAL_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
LIBPATH="$BUILD"
add_dir() { case ":$LIBPATH:" in *":$1:"*) ;; *) LIBPATH="$LIBPATH:$1" ;; esac; }

CUDNN_DIR=$(find_lib libcudnn.so.9) && add_dir "$CUDNN_DIR"
# cuDNN from a PyTorch wheel dlopens its engines' dependencies (cuBLAS(Lt), NVRTC) from the
# sibling nvidia/*/lib folders, as PyTorch arranges for itself: put them on the path too.
case "${CUDNN_DIR:-}" in
  */nvidia/cudnn/lib) for d in "${CUDNN_DIR%/cudnn/lib}"/*/lib; do [ -d "$d" ] && add_dir "$d"; done ;;
esac
if [ -n "${CUDNN_DIR:-}" ]; then say "cuDNN: $CUDNN_DIR/libcudnn.so.9"; else
  if ldconfig -p 2>/dev/null | grep -q 'libcudnn.so.9 '; then say "cuDNN: in the system's library path"
  else fail "libcudnn.so.9 not found (searched: ${CANDIDATE_DIRS[*]:-nothing}); elman-bench's GPU comparison needs it"; fi
fi
# Whatever else the carried binaries cannot resolve (cuBLAS 13 for libelman.so, typically).
export LD_LIBRARY_PATH="$LIBPATH${ORIGINAL_LD_LIBRARY_PATH:+:$ORIGINAL_LD_LIBRARY_PATH}"
for bin in "$BUILD"/libelman.so "$BUILD"/bench/elman-bench; do
  [ -e "$bin" ] || continue
  for missing in $(ldd "$bin" 2>/dev/null | awk '/not found/ {print $1}'); do
    if dir=$(find_lib "$missing"); then add_dir "$dir"; say "found $missing in $dir"
    else fail "$(basename "$bin") needs $missing, found nowhere (searched ${#CANDIDATE_DIRS[@]} directories)"; fi
  done
done
export LD_LIBRARY_PATH="$LIBPATH${ORIGINAL_LD_LIBRARY_PATH:+:$ORIGINAL_LD_LIBRARY_PATH}"
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$BUILD/libelman.so" >"$LOGDIR/ldd-libelman.log" 2>&1

# ---- 2. the test binaries ------------------------------------------------------------------
TESTS=()
while IFS= read -r f; do
  name=$(basename "$f")
  case "$name" in *_test|*_tests) ;; *) continue ;; esac  # elman_add_gtest's names (no fuzzers)
  timeout 60 "$f" --gtest_list_tests >/dev/null 2>&1 && TESTS+=("$f")
done < <(find "$BUILD" -path '*/CMakeFiles' -prune -o -type f -perm -u+x -print | sort)
[ ${#TESTS[@]} -gt 0 ] || fail "no GoogleTest binaries found under $BUILD"
say "test binaries: ${#TESTS[@]}"

run_logged() {  # run_logged LOG CMD...: runs in the binary's folder, records the exit status
  local log=$1; shift
  (cd "$(dirname "$1")" && "$@") >"$log" 2>&1
}
for t in "${TESTS[@]}"; do
  name=$(basename "$t")
  log=$LOGDIR/test-$name.log
  if run_logged "$log" "$t"; then
    if grep -qE "no CUDA device|built without CUDA" "$log"; then fail "$name: GPU tests skipped ('no CUDA device' or 'built without CUDA') on a GPU machine ($log)"
    else say "ok   $name ($(grep -Eo '[0-9]+ tests? from [0-9]+ test suites? ran' "$log" | head -1))"; fi
  else
    fail "$name (see $(basename "$log"))"
  fi
done

# ---- 3. compute-sanitizer ----------------------------------------------------------------------
SANITIZER=""
for c in "$(command -v compute-sanitizer 2>/dev/null)" /usr/local/cuda/bin/compute-sanitizer \
         /usr/local/cuda-*/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
         /opt/nvidia/*/compute-sanitizer/compute-sanitizer; do
  if [ -n "$c" ] && [ -x "$c" ]; then SANITIZER=$c; break; fi
done
if [ "${ELMAN_SKIP_SANITIZER:-0}" = 1 ]; then
  say "SKIPPED: compute-sanitizer step (ELMAN_SKIP_SANITIZER=1)"
elif [ -z "$SANITIZER" ]; then
  fail "compute-sanitizer not found (PATH, /usr/local/cuda*/bin); set ELMAN_SKIP_SANITIZER=1 to skip this step knowingly"
else
  say "compute-sanitizer: $SANITIZER"
  FILTER=${ELMAN_SANITIZE_FILTER:-*}
  for tool in ${ELMAN_SANITIZER_TOOLS:-memcheck racecheck initcheck synccheck}; do
    for t in "${TESTS[@]}"; do
      name=$(basename "$t")
      log=$LOGDIR/sanitizer-$tool-$name.log
      run_logged "$log" timeout "${ELMAN_SANITIZER_TIMEOUT:-300}" "$SANITIZER" --tool "$tool" \
        --error-exitcode 86 "$t" --gtest_filter="$FILTER"
      case $? in
        0) say "ok   $tool $name" ;;
        124) fail "$tool $name timed out after ${ELMAN_SANITIZER_TIMEOUT:-300} s (see $(basename "$log"))" ;;
        *) fail "$tool $name (see $(basename "$log"))" ;;
      esac
    done
  done
fi

# ---- 4. the benchmark ------------------------------------------------------------------------
BENCH=$BUILD/bench/elman-bench
if [ -x "$BENCH" ]; then
  if "$BENCH" --quick --json "$LOGDIR/bench-quick.json" >"$LOGDIR/bench-quick.log" 2>&1; then
    say "ok   elman-bench --quick (table in bench-quick.log, numbers in bench-quick.json)"
  else
    fail "elman-bench --quick (see bench-quick.log)"
  fi
else
  fail "$BENCH not built"
fi

if [ $FAILED = 0 ]; then say "ALL PASSED"; else say "SOME STEPS FAILED"; fi
exit $FAILED
