#!/usr/bin/env bash
# gpu-check.sh: elman's GPU check, one command run from the bundle on a GPU machine. In order,
# each stage within its own time budget so the whole run ends within 8 minutes by construction:
#   1. machine    the GPU, driver, CUDA, cuBLAS and cuDNN, gVisor or Firecracker, libraries
#   2. tests      every test binary's CUDA cases (a timeout per binary; the 65,535-step case)
#   3. bench      elman-bench --quick --json: elman against every cuDNN algorithm, agreement first
#   4. package    the bundled package on the GPU: elman-example agrees with its CPU run, and
#                 elman-train next-number trains on the GPU
#   5. sanitizer  compute-sanitizer memcheck on the CUDA cases, where the machine supports it
# Each stage's results are in OUT before the next stage starts, so a killed stage never loses an
# earlier one's. OUT receives at most 8 flat files: summary.txt (read it first), machine.txt,
# tests.log, bench.log, bench.json, package.log, sanitizer.log.
#
# Usage:
#   here:   bash tools/gpu-bundle.sh                    (writes gpu-bundle/, this script included)
#   there:  bash gpu-bundle/gpu-check.sh OUT            (device tool: run(command=
#           "bash gpu-bundle/gpu-check.sh $OUT", carry=["gpu-bundle"]))
#   bash gpu-bundle/gpu-check.sh --dry-run OUT         no GPU needed: every stage is walked, a
#           missing device is a skip (tools/gpu-preflight.sh runs this on the CPU machine)
#   bash gpu-bundle/gpu-check.sh --print-cuda-filter   the gtest filter that selects CUDA cases
# Exit status: 0 when nothing failed or was left incomplete, 1 otherwise, 2 on bad usage.
# Rehearsals may shrink (never grow past the total) the budgets, in seconds:
#   ELMAN_CHECK_BUDGET_MACHINE (30) _TESTS (180) _BENCH (120) _PACKAGE (30) _SANITIZER (100),
#   ELMAN_CHECK_BINARY_TIMEOUT (90: one test binary, in the tests and sanitizer stages).
set -u -o pipefail

# CUDA cases are the tests whose full name says Cuda/cuda/CUDA (parameterised: .../cuda), plus
# the cuDNN loader's; tools/gpu-preflight.sh fails if a test that skips for want of a device is
# not selected by this filter.
CUDA_FILTER='*cuda*:*Cuda*:*CUDA*:*CudnnLoader*'
# Under memcheck: not the 70,000-step case (minutes when every launch is instrumented), the
# deliberate out-of-memory test, nor the test that times how long queuing takes.
SANITIZER_FILTER="$CUDA_FILTER-*SequenceLongerThan65535Steps*:*TooLarge*:*WorkIsOrderedOnTheUserStream*"
# The sanitizer stage's order, most kernel code first (its budget may not reach the end); the
# binaries not named follow in the bundle's order.
SANITIZER_FIRST="ops_test variable_length_test backend_test streaming_test invariants_test train_cuda_test"
TOTAL_LIMIT=470  # seconds: 7 min 50 s, whatever the budgets say

usage() {
  sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

OUT="" DRY_RUN=0
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    --print-cuda-filter) echo "$CUDA_FILTER"; exit 0 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "gpu-check: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    *)
      if [ -n "$OUT" ]; then echo "gpu-check: one OUT folder, please" >&2; exit 2; fi
      OUT=$arg
      ;;
  esac
done
if [ -z "$OUT" ]; then usage >&2; exit 2; fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/bin/tests.txt" ]; then
  BUNDLE=$HERE
elif [ -f "$HERE/../gpu-bundle/bin/tests.txt" ]; then
  BUNDLE=$(cd "$HERE/../gpu-bundle" && pwd)
else
  echo "gpu-check: no bundle beside this script. Build one with 'bash tools/gpu-bundle.sh', then" \
    "run 'bash gpu-bundle/gpu-check.sh OUT'." >&2
  exit 2
fi

# A transfer that drops execute bits must not turn into "cannot list its tests".
for f in "$BUNDLE"/bin/*; do [ -x "$f" ] || chmod u+x "$f" 2>/dev/null; done

B_MACHINE=${ELMAN_CHECK_BUDGET_MACHINE:-30}
B_TESTS=${ELMAN_CHECK_BUDGET_TESTS:-180}
B_BENCH=${ELMAN_CHECK_BUDGET_BENCH:-120}
B_PACKAGE=${ELMAN_CHECK_BUDGET_PACKAGE:-30}
B_SANITIZER=${ELMAN_CHECK_BUDGET_SANITIZER:-100}
BINARY_TIMEOUT=${ELMAN_CHECK_BINARY_TIMEOUT:-90}
for v in "$B_MACHINE" "$B_TESTS" "$B_BENCH" "$B_PACKAGE" "$B_SANITIZER" "$BINARY_TIMEOUT"; do
  case $v in '' | *[!0-9]*) echo "gpu-check: budgets are whole seconds, got '$v'" >&2; exit 2 ;; esac
done
BUDGET_SUM=$((B_MACHINE + B_TESTS + B_BENCH + B_PACKAGE + B_SANITIZER))
if [ "$BUDGET_SUM" -gt "$TOTAL_LIMIT" ]; then
  echo "gpu-check: the stage budgets add up to $BUDGET_SUM s, over the $TOTAL_LIMIT s limit" >&2
  exit 2
fi

mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt MACHINE=$OUT/machine.txt TESTS_LOG=$OUT/tests.log
BENCH_LOG=$OUT/bench.log BENCH_JSON=$OUT/bench.json PACKAGE_LOG=$OUT/package.log
SANITIZER_LOG=$OUT/sanitizer.log
: >"$SUMMARY"
: >"$MACHINE"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/elman-gpu-check.XXXXXX") || exit 2
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/tmp" "$SCRATCH/run"
export TMPDIR=$SCRATCH/tmp                # what the tests write goes here, not into OUT
export ELMAN_SOURCE_DIR=$BUNDLE/src       # fixtures, data and scripts the tests read
SECONDS=0

# ---- reporting ---------------------------------------------------------------------------------

FAILED=() INCOMPLETE=() SKIPPED=()
say() { echo "$*" | tee -a "$SUMMARY"; }
# result STATUS STAGE TEXT: one line of the summary. PASS, FAIL, TIME (killed at its timeout: a
# failure), NOTRUN (its budget was spent: incomplete), SKIP (cannot run here, says why), N/A,
# INFO.
result() {
  local status=$1 stage=$2 text=$3
  say "$(printf '[%-9s] %-6s %s' "$stage" "$status" "$text")"
  case $status in
    FAIL | TIME) FAILED+=("$stage: ${text%%:*}") ;;
    NOTRUN) INCOMPLETE+=("$stage: ${text%%:*}") ;;
    SKIP) SKIPPED+=("$stage: ${text%%:*}") ;;
  esac
}
# A missing device: a skip in a dry run, a failure on the GPU machine.
no_device_status() { if [ "$DRY_RUN" = 1 ]; then echo SKIP; else echo FAIL; fi; }

STAGE_END=0
stage_begin() {  # stage_begin NUMBER NAME BUDGET
  local end=$((SECONDS + $3))
  [ "$end" -gt "$TOTAL_LIMIT" ] && end=$TOTAL_LIMIT
  STAGE_END=$end
  say "== stage $1/5 $2: started at +${SECONDS} s, budget $((end - SECONDS)) s"
}
time_left() { echo $((STAGE_END - SECONDS)); }
# The smaller of a command's own limit and what is left of the stage (at least 1).
limit() {
  local want=$1 left
  left=$(($(time_left) - 1))
  [ "$left" -lt "$want" ] && want=$left
  [ "$want" -lt 1 ] && want=1
  echo "$want"
}
# bounded SECONDS LOG CMD...: runs CMD in the scratch folder, stdin closed, its output appended
# to LOG; TERM after SECONDS, KILL 3 s later (status 124 or 137).
bounded() {
  local t=$1 log=$2
  shift 2
  (cd "$SCRATCH/run" && timeout -k 3 "$t" "$@") >>"$log" 2>&1 </dev/null
}
# Keeps a log under the device tool's 16 MiB a file: its first and last 6 MiB.
cap_file() {
  local f=$1 max=$((12 * 1024 * 1024)) size
  [ -f "$f" ] || return 0
  size=$(wc -c <"$f")
  [ "$size" -le "$max" ] && return 0
  { head -c $((6 * 1024 * 1024)) "$f"
    printf '\n\n[... %d bytes cut by gpu-check to stay under 16 MiB ...]\n\n' $((size - max))
    tail -c $((6 * 1024 * 1024)) "$f"; } >"$SCRATCH/cap" && mv "$SCRATCH/cap" "$f"
}
# gtest's per-test lines in a log: counts of OK, FAILED and SKIPPED tests, and the tests that
# skipped saying "no CUDA device".
count_tests() { grep -Ec "^\[ *$1 *\] [^ ]+ \([0-9]+ ms\)" "$2"; }
no_device_skips() {
  awk '/^\[ RUN      \]/ { name = $4; nd = 0 } /no CUDA device/ { nd = 1 }
       /^\[  SKIPPED \] [^ ]+ \([0-9]+ ms\)/ { if (nd) print $4; nd = 0 }' "$1"
}
failed_names() { grep -Eo '^\[  FAILED  \] [^ ]+ \([0-9]+ ms\)' "$1" | awk '{print $4}' | head -3 | paste -sd ' ' -; }

say "gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname 2>/dev/null || echo '?'), bundle $BUNDLE"
say "$(grep -E '^(commit|built)' "$BUNDLE/BUNDLE-INFO.txt" 2>/dev/null | paste -sd ';' -)"
say "dry run: $([ "$DRY_RUN" = 1 ] && echo 'yes (no GPU expected: a missing device is a skip)' || echo no)"
say "budgets (s): machine $B_MACHINE, tests $B_TESTS (one binary $BINARY_TIMEOUT), bench $B_BENCH," \
  "package $B_PACKAGE, sanitizer $B_SANITIZER; all $BUDGET_SUM of at most $TOTAL_LIMIT"

# ---- 1. the machine ---------------------------------------------------------------------------

# fact TITLE CMD...: a titled section of machine.txt, each command bounded.
fact() {
  local title=$1
  shift
  printf '\n== %s\n' "$title" >>"$MACHINE"
  if [ "$(time_left)" -lt 2 ]; then echo "(not run: the stage's budget was spent)" >>"$MACHINE"; return 1; fi
  bounded "$(limit 10)" "$MACHINE" "$@"
}

# gVisor or Firecracker, with the evidence: gVisor's dmesg starts "Starting gVisor..." and its
# kernel calls itself 4.4.0 (or *gvisor); a Firecracker guest's kernel gets its devices as
# virtio_mmio.device= arguments (this workplace's kernels are also named *-fc-*).
detect_runtime() {
  local kernel head
  kernel=$(uname -r)
  head=$(timeout 5 dmesg 2>/dev/null | head -n 5)
  if grep -q 'Starting gVisor' <<<"$head"; then echo "gvisor (dmesg: Starting gVisor...)"; return; fi
  case $kernel in *gvisor*) echo "gvisor (kernel $kernel)"; return ;; esac
  if [ "$kernel" = 4.4.0 ] && grep -q ' #1 SMP Sun Jan 10 15:06:54 PST 2016' /proc/version 2>/dev/null; then
    echo "gvisor (kernel 4.4.0 with gVisor's fixed build string)"; return
  fi
  local named
  named=$(grep -oi '[^ ]*firecracker[^ ]*' /proc/cmdline 2>/dev/null | head -n 1)
  if [ -n "$named" ]; then echo "firecracker (kernel command line: $named)"; return; fi
  if timeout 5 dmesg 2>/dev/null | grep -qi firecracker; then echo "firecracker (named in dmesg)"; return; fi
  if grep -q 'virtio_mmio.device=' /proc/cmdline 2>/dev/null; then
    echo "firecracker (virtio_mmio devices on the kernel command line, kernel $kernel)"; return
  fi
  case $kernel in *-fc-*) echo "firecracker (kernel $kernel)"; return ;; esac
  echo "unknown (kernel $kernel: neither gVisor nor Firecracker recognised)"
}

# Folders that may hold the CUDA libraries the bundle does not carry: PyTorch's wheels
# (site-packages/nvidia/*/lib, cuDNN and cuBLAS for CUDA 13), then CUDA toolkit folders.
candidate_dirs() {
  local sp d
  {
    if command -v python3 >/dev/null 2>&1; then
      timeout 15 python3 -c 'import site, sys
for p in site.getsitepackages() + [site.getusersitepackages()] + sys.path: print(p)' 2>/dev/null
    fi
    printf '%s\n' /opt/*/.venv/lib/python3*/site-packages /usr/local/lib/python3*/dist-packages \
      /usr/lib/python3/dist-packages
  } | awk '!seen[$0]++' | while IFS= read -r sp; do
    for d in "$sp"/nvidia/*/lib; do [ -d "$d" ] && echo "$d"; done
  done
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
    /usr/local/cuda-*/lib64 /usr/local/cuda-*/lib /usr/local/cuda-*/targets/x86_64-linux/lib; do
    [ -d "$d" ] && echo "$d"
  done
}
find_lib() {  # the first candidate folder holding file $1
  local d
  for d in "${CANDIDATES[@]}"; do
    if [ -e "$d/$1" ]; then echo "$d"; return 0; fi
  done
  return 1
}
LIBPATH=$BUNDLE/lib
add_dir() { case ":$LIBPATH:" in *":$1:"*) ;; *) LIBPATH="$LIBPATH:$1" ;; esac; }
# "name (folder)" of a library found at $2/$1, its version from the file it links to.
lib_label() { echo "$(basename "$(readlink -f "$2/$1")") ($2)"; }

stage_machine() {
  stage_begin 1 machine "$B_MACHINE"
  RUNTIME=$(detect_runtime)
  fact "date, kernel, command line" sh -c 'date -u; uname -a; cat /proc/version /proc/cmdline'
  echo "runtime: $RUNTIME" >>"$MACHINE"
  fact "dmesg (first lines)" sh -c 'dmesg | head -n 8'
  fact "CPU and memory" sh -c 'nproc; grep -m1 "model name" /proc/cpuinfo; grep MemTotal /proc/meminfo'
  fact "bundle" cat "$BUNDLE/BUNDLE-INFO.txt"
  GPU_PRESENT=0
  if command -v nvidia-smi >/dev/null 2>&1; then
    fact "nvidia-smi" nvidia-smi
    fact "nvidia-smi --query-gpu" nvidia-smi \
      --query-gpu=name,driver_version,memory.total,compute_cap,clocks.sm,clocks.max.sm --format=csv
    local gpu
    gpu=$(timeout "$(limit 10)" nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
      --format=csv,noheader 2>/dev/null | head -n 1)
    if [ -n "$gpu" ]; then
      GPU_PRESENT=1
      result INFO machine "GPU: $gpu (name, driver, memory, compute capability)"
    fi
  fi
  [ "$GPU_PRESENT" = 1 ] || result "$(no_device_status)" machine "no GPU: nvidia-smi is missing or lists none"
  result INFO machine "runtime: $RUNTIME"
  local cuda_line
  cuda_line=$(timeout "$(limit 10)" nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1)
  local nvcc="" c
  for c in "$(command -v nvcc 2>/dev/null)" /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do
    if [ -n "$c" ] && [ -x "$c" ]; then nvcc=$c; break; fi
  done
  [ -n "$nvcc" ] && fact "nvcc --version" "$nvcc" --version
  local nvcc_release="not found"
  [ -n "$nvcc" ] && nvcc_release="$("$nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*') ($nvcc)"
  result INFO machine "CUDA: driver's ${cuda_line:-CUDA Version unknown}; nvcc $nvcc_release"

  mapfile -t CANDIDATES < <(candidate_dirs | awk '!seen[$0]++')
  printf '\n== library folders searched\n%s\n' "${CANDIDATES[*]:-none}" >>"$MACHINE"
  local dir
  if dir=$(find_lib libcublas.so.13); then
    add_dir "$dir"
    result INFO machine "cuBLAS: $(lib_label libcublas.so.13 "$dir")"
  elif ldconfig -p 2>/dev/null | grep -q 'libcublas.so.13 '; then
    result INFO machine "cuBLAS: libcublas.so.13 in the system's library path"
  else
    result FAIL machine "cuBLAS: libcublas.so.13 found nowhere (libelman needs it; searched ${#CANDIDATES[@]} folders, see machine.txt)"
  fi
  if dir=$(find_lib libcudnn.so.9); then
    add_dir "$dir"
    # cuDNN from a PyTorch wheel loads its engines' dependencies (cuBLASLt, NVRTC) from the
    # sibling nvidia/*/lib folders, as PyTorch arranges for itself.
    case $dir in */nvidia/*/lib) for d in "${dir%/*/lib}"/*/lib; do [ -d "$d" ] && add_dir "$d"; done ;; esac
    result INFO machine "cuDNN: $(lib_label libcudnn.so.9 "$dir")"
  elif ldconfig -p 2>/dev/null | grep -q 'libcudnn.so.9 '; then
    result INFO machine "cuDNN: libcudnn.so.9 in the system's library path"
  else
    result "$(no_device_status)" machine "cuDNN: libcudnn.so.9 found nowhere (elman-bench's peer needs it)"
  fi
  export LD_LIBRARY_PATH="$LIBPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$MACHINE"

  # Every bundled program and library resolves every library it needs, in the versions it needs.
  printf '\n== ldd of every bundled program and library\n' >>"$MACHINE"
  local f missing bad=0 n=0
  for f in "$BUNDLE"/bin/* "$BUNDLE"/lib/*; do
    if [ ! -f "$f" ] || [ "$(head -c 4 "$f" | tail -c 3)" != ELF ]; then continue; fi
    n=$((n + 1))
    echo "-- $(basename "$f")" >>"$MACHINE"
    missing=$(timeout "$(limit 10)" ldd "$f" 2>&1 | tee -a "$MACHINE" | grep -E 'not found|version .* not found' | head -n 3 | paste -sd ';' -)
    if [ -n "$missing" ]; then
      bad=$((bad + 1))
      result FAIL machine "$(basename "$f"): cannot load: $missing"
    fi
  done
  [ "$bad" = 0 ] && result PASS machine "every bundled program and library ($n) finds the libraries it needs"
  if ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
    result INFO machine "CUDA driver: libcuda.so.1 in the system's library path"
  else
    result INFO machine "CUDA driver: libcuda.so.1 not in ldconfig's cache (LD_LIBRARY_PATH may hold it)"
  fi
  cap_file "$MACHINE"
}

# ---- 2. the GPU tests -------------------------------------------------------------------------

CUDA_BINARIES=()  # the binaries that have CUDA cases, for the sanitizer stage
stage_tests() {
  stage_begin 2 tests "$B_TESTS"
  : >"$TESTS_LOG"
  local name bin rc count t out passed failed skipped nodev other
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    bin=$BUNDLE/bin/$name
    if [ ! -f "$bin" ]; then result FAIL tests "$name: listed in bin/tests.txt but missing from the bundle"; continue; fi
    if [ "$(time_left)" -lt 10 ]; then result NOTRUN tests "$name: not run, the stage's budget was spent"; continue; fi
    out=$SCRATCH/list.log
    : >"$out"
    bounded "$(limit 30)" "$out" "$bin" --gtest_list_tests --gtest_filter="$CUDA_FILTER"
    rc=$?
    { echo "===== $name --gtest_list_tests --gtest_filter=$CUDA_FILTER (exit $rc)"; cat "$out"; } >>"$TESTS_LOG"
    if [ "$rc" != 0 ]; then
      result FAIL tests "$name: cannot list its tests (exit $rc: $(grep -v '^$' "$out" | head -n 1 | cut -c1-160))"
      continue
    fi
    count=$(grep -c '^  ' "$out")
    if [ "$count" = 0 ]; then result N/A tests "$name: no CUDA cases"; continue; fi
    CUDA_BINARIES+=("$name")
    t=$(limit "$BINARY_TIMEOUT")
    out=$SCRATCH/run.log
    : >"$out"
    bounded "$t" "$out" "$bin" --gtest_filter="$CUDA_FILTER" --gtest_color=no
    rc=$?
    { echo "===== $name --gtest_filter=$CUDA_FILTER (exit $rc, limit $t s)"; cat "$out"; } >>"$TESTS_LOG"
    passed=$(count_tests OK "$out")
    failed=$(count_tests FAILED "$out")
    skipped=$(count_tests SKIPPED "$out")
    nodev=$(no_device_skips "$out" | wc -l)
    other=$((skipped - nodev))
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
      result TIME tests "$name: killed after $t s ($passed of $count CUDA cases passed before)"
    elif [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
      result FAIL tests "$name: $failed of $count CUDA cases failed (exit $rc): $(failed_names "$out")"
    elif [ "$nodev" != 0 ]; then
      result "$(no_device_status)" tests "$name: $nodev of $count CUDA cases skipped: no CUDA device ($passed passed)"
    elif [ "$passed" = 0 ]; then
      result FAIL tests "$name: none of $count CUDA cases passed ($skipped skipped)"
    elif [ "$other" != 0 ]; then
      result PASS tests "$name: $passed of $count CUDA cases passed, $other skipped for other reasons (tests.log)"
    else
      result PASS tests "$name: $passed of $count CUDA cases passed"
    fi
  done <"$BUNDLE/bin/tests.txt"
  # The case DESIGN.md singles out: more steps than a CUDA grid dimension holds.
  if grep -q '^\[       OK \] [^ ]*SequenceLongerThan65535Steps/cuda ' "$TESTS_LOG"; then
    result PASS tests "the 65,535-step case (T = 70,000) passed on the GPU"
  else
    result "$(no_device_status)" tests "the 65,535-step case (T = 70,000): did not pass on a GPU (see invariants_test in tests.log)"
  fi
  cap_file "$TESTS_LOG"
}

# ---- 3. the benchmark -------------------------------------------------------------------------

stage_bench() {
  stage_begin 3 bench "$B_BENCH"
  : >"$BENCH_LOG"
  local bench=$BUNDLE/bin/elman-bench rc t
  if [ ! -x "$bench" ]; then result FAIL bench "elman-bench: missing from the bundle"; return; fi
  bounded "$(limit 10)" "$SCRATCH/help.log" "$bench" --help || {
    result FAIL bench "elman-bench: does not start ($(head -n 1 "$SCRATCH/help.log"))"; return; }
  t=$(limit "$B_BENCH")
  echo "===== elman-bench --quick --json bench.json (limit $t s)" >>"$BENCH_LOG"
  bounded "$t" "$BENCH_LOG" "$bench" --quick --json "$BENCH_JSON"
  rc=$?
  case $rc in
    0) result PASS bench "elman-bench --quick: every row agreed with cuDNN before it was timed (bench.log, bench.json)" ;;
    124 | 137) result TIME bench "elman-bench --quick: killed after $t s (bench.log has what it printed)" ;;
    1) result FAIL bench "elman-bench --quick: $(grep -m1 'were not verified' "$BENCH_LOG" || echo 'exit 1') (bench.log)" ;;
    *)
      if grep -qi 'no CUDA device' "$BENCH_LOG"; then
        result "$(no_device_status)" bench "elman-bench --quick: no CUDA device"
      else
        result FAIL bench "elman-bench --quick: exit $rc: $(grep -m1 '^error' "$BENCH_LOG" | cut -c1-200)"
      fi
      ;;
  esac
  cap_file "$BENCH_LOG"
}

# ---- 4. the package ---------------------------------------------------------------------------

# The numbers two runs printed (the header line aside) agree: |a - b| <= 2e-4 + 1e-4 |b|
# (printing rounds to 4 or 6 decimals; float32 CPU and GPU differ by rounding only). Prints
# "count worst-difference", fails on a mismatch or on different counts.
numbers_agree() {
  local a=$SCRATCH/a.num b=$SCRATCH/b.num
  grep -v '^elman ' "$1" | grep -Eo '[-+]?[0-9]+\.[0-9]+' >"$a"
  grep -v '^elman ' "$2" | grep -Eo '[-+]?[0-9]+\.[0-9]+' >"$b"
  if [ ! -s "$a" ] || [ "$(wc -l <"$a")" != "$(wc -l <"$b")" ]; then
    echo "the two runs printed different lines"
    return 1
  fi
  paste "$a" "$b" | awk '{ d = $1 - $2; if (d < 0) d = -d; s = $2 < 0 ? -$2 : $2;
      if (d > worst) worst = d; if (d > 2e-4 + 1e-4 * s) bad++ }
    END { printf "%d numbers, largest difference %g", NR, worst; exit bad > 0 }'
}

stage_package() {
  stage_begin 4 package "$B_PACKAGE"
  : >"$PACKAGE_LOG"
  local ex=$BUNDLE/bin/elman-example train=$BUNDLE/bin/elman-train rc agree
  echo "===== elman-example (cpu)" >>"$PACKAGE_LOG"
  : >"$SCRATCH/cpu.txt"
  bounded "$(limit 10)" "$SCRATCH/cpu.txt" "$ex"
  rc=$?
  cat "$SCRATCH/cpu.txt" >>"$PACKAGE_LOG"
  if [ "$rc" != 0 ]; then
    result FAIL package "elman-example: its CPU run failed (exit $rc)"
  else
    echo "===== elman-example --device cuda" >>"$PACKAGE_LOG"
    : >"$SCRATCH/cuda.txt"
    bounded "$(limit 10)" "$SCRATCH/cuda.txt" "$ex" --device cuda
    rc=$?
    cat "$SCRATCH/cuda.txt" >>"$PACKAGE_LOG"
    if [ "$rc" != 0 ] && grep -qi 'no CUDA device' "$SCRATCH/cuda.txt"; then
      result "$(no_device_status)" package "elman-example --device cuda: no CUDA device (its CPU run passed)"
    elif [ "$rc" != 0 ]; then
      result FAIL package "elman-example --device cuda: exit $rc: $(tail -n 1 "$SCRATCH/cuda.txt" | cut -c1-160)"
    elif agree=$(numbers_agree "$SCRATCH/cuda.txt" "$SCRATCH/cpu.txt"); then
      result PASS package "elman-example: the GPU run agrees with the CPU run ($agree)"
    else
      result FAIL package "elman-example: the GPU run disagrees with the CPU run ($agree; package.log)"
    fi
  fi
  echo "===== elman-train next-number --device cuda" >>"$PACKAGE_LOG"
  : >"$SCRATCH/train.txt"
  bounded "$(limit 20)" "$SCRATCH/train.txt" "$train" next-number --device cuda --out "$SCRATCH/train-run"
  rc=$?
  cat "$SCRATCH/train.txt" >>"$PACKAGE_LOG"
  if [ "$rc" = 0 ]; then
    result PASS package "elman-train next-number on the GPU: $(grep -m1 'all predictions' "$SCRATCH/train.txt" || echo 'exit 0')"
  elif grep -qi 'no CUDA device' "$SCRATCH/train.txt"; then
    result "$(no_device_status)" package "elman-train next-number --device cuda: no CUDA device"
  else
    result FAIL package "elman-train next-number --device cuda: exit $rc: $(tail -n 1 "$SCRATCH/train.txt" | cut -c1-160)"
  fi
  cap_file "$PACKAGE_LOG"
}

# ---- 5. compute-sanitizer ---------------------------------------------------------------------

find_sanitizer() {
  local c
  for c in "$(command -v compute-sanitizer 2>/dev/null)" /usr/local/cuda/bin/compute-sanitizer \
    /usr/local/cuda-*/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
    /usr/local/cuda-*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

stage_sanitizer() {
  stage_begin 5 sanitizer "$B_SANITIZER"
  : >"$SANITIZER_LOG"
  local sanitizer name t rc out shared
  sanitizer=$(find_sanitizer) || sanitizer=""
  shared=$(grep -m1 '^shared memory or barriers:' "$BUNDLE/BUNDLE-INFO.txt" | cut -d: -f2- | sed 's/^ *//')
  if [ "${shared:-none}" = none ]; then
    result N/A sanitizer "racecheck, synccheck: no kernel uses shared memory or barriers (the bundle's source scan)"
  fi
  case $RUNTIME in
    gvisor*) result SKIP sanitizer "memcheck: not supported here (gVisor: compute-sanitizer refuses the device)"; return ;;
  esac
  if [ "$DRY_RUN" = 1 ]; then
    result SKIP sanitizer "memcheck: no CUDA device (dry run; compute-sanitizer: ${sanitizer:-not found})"
    return
  fi
  if [ -z "$sanitizer" ]; then
    result SKIP sanitizer "memcheck: compute-sanitizer not found (PATH, /usr/local/cuda*, /opt/nvidia)"
    return
  fi
  local tools=memcheck
  [ "${shared:-none}" != none ] && tools="memcheck racecheck synccheck"
  local tool ordered=() first
  for first in $SANITIZER_FIRST; do
    for name in "${CUDA_BINARIES[@]}"; do [ "$name" = "$first" ] && ordered+=("$name"); done
  done
  for name in "${CUDA_BINARIES[@]}"; do
    case " $SANITIZER_FIRST " in *" $name "*) ;; *) ordered+=("$name") ;; esac
  done
  for tool in $tools; do
    for name in "${ordered[@]}"; do
      if [ "$(time_left)" -lt 10 ]; then result NOTRUN sanitizer "$tool $name: not run, the stage's budget was spent"; continue; fi
      t=$(limit "$BINARY_TIMEOUT")
      out=$SCRATCH/sanitizer.log
      : >"$out"
      bounded "$t" "$out" "$sanitizer" --tool "$tool" --error-exitcode 86 --report-api-errors no \
        "$BUNDLE/bin/$name" --gtest_filter="$SANITIZER_FILTER" --gtest_color=no
      rc=$?
      { echo "===== $tool $name (exit $rc, limit $t s)"; cat "$out"; } >>"$SANITIZER_LOG"
      if grep -qE 'Device not supported|[Uu]nable to find any (device|GPU)' "$out"; then
        result SKIP sanitizer "$tool: not supported here ($(grep -m1 -oE 'Device not supported|[Uu]nable to find any (device|GPU)' "$out"); runtime: $RUNTIME)"
        cap_file "$SANITIZER_LOG"
        return
      fi
      case $rc in
        0) result PASS sanitizer "$tool $name: $(grep -m1 -o 'ERROR SUMMARY: .*' "$out" || echo 'exit 0')" ;;
        86) result FAIL sanitizer "$tool $name: $(grep -m1 -o 'ERROR SUMMARY: .*' "$out")" ;;
        124 | 137) result NOTRUN sanitizer "$tool $name: unfinished, killed after $t s (instrumented runs are slow)" ;;
        *) result FAIL sanitizer "$tool $name: exit $rc under $tool: $(failed_names "$out")" ;;
      esac
    done
  done
  cap_file "$SANITIZER_LOG"
}

RUNTIME=unknown
stage_machine
stage_tests
stage_bench
stage_package
stage_sanitizer

say "== done at +${SECONDS} s"
if [ ${#FAILED[@]} -gt 0 ]; then
  say "RESULT: FAILED (${#FAILED[@]}): $(printf '%s; ' "${FAILED[@]}")"
  exit 1
elif [ ${#INCOMPLETE[@]} -gt 0 ]; then
  say "RESULT: INCOMPLETE (${#INCOMPLETE[@]} not run for want of time): $(printf '%s; ' "${INCOMPLETE[@]}")"
  exit 1
elif [ "$DRY_RUN" = 1 ]; then
  say "RESULT: DRY RUN OK: every stage walked, nothing failed; skipped (no device): ${#SKIPPED[@]}"
else
  say "RESULT: ALL PASSED${SKIPPED[0]:+ (skipped: $(printf '%s; ' "${SKIPPED[@]}"))}"
fi
exit 0
