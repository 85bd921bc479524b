#!/usr/bin/env bash
# The static resource check of the hot CUDA kernels, no GPU needed: compiles each file with
# ptxas's report (-Xptxas -v) and fails on register spills, a stack frame (local memory), more
# registers than an SM can give a block of the kernels' 256 threads, or static shared memory
# above 48 KB (the dynamic shared memory of the recurrences is checked by their plan, against
# 227 KB). Usage: resource_check.sh NVCC ARCH SOURCE_DIR FILE...   (exit 77: skipped)
#        resource_check.sh --report REPORT_FILE   (checks a saved ptxas report: the check's test)
set -euo pipefail
readonly kThreads=256 kRegistersPerSm=65536 kStaticSharedBytes=$((48 * 1024))
failed=0

# check FILE REPORT: every kernel of ptxas's REPORT for FILE within the budget.
check() {
  local file=$1 report=$2 kernels=0 name="" line stack stores loads registers smem
  # ptxas reports per entry: "Compiling entry function 'NAME'", then its stack frame and spills,
  # then "Used R registers, ... N bytes smem".
  while IFS= read -r line; do
    case "$line" in
      *"Compiling entry function"*) name=$(sed -E "s/.*entry function '([^']+)'.*/\1/" <<<"$line") ;;
      *"bytes stack frame"*)
        read -r stack stores loads < <(sed -E 's/[^0-9]*([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores, ([0-9]+) bytes spill loads.*/\1 \2 \3/' <<<"$line")
        if ((stack > 0 || stores > 0 || loads > 0)); then
          echo "FAIL $file $name: stack frame $stack bytes, spill stores $stores, spill loads $loads"
          failed=1
        fi ;;
      *"Used "*" registers"*)
        kernels=$((kernels + 1))
        registers=$(sed -E 's/.*Used ([0-9]+) registers.*/\1/' <<<"$line")
        smem=0
        [[ "$line" =~ ([0-9]+)\ bytes\ smem ]] && smem=${BASH_REMATCH[1]}
        echo "$file ${name:-?}: $registers registers, $smem bytes static smem"
        if ((registers * kThreads > kRegistersPerSm)); then
          echo "FAIL $file $name: $registers registers x $kThreads threads > $kRegistersPerSm"
          failed=1
        fi
        if ((smem > kStaticSharedBytes)); then
          echo "FAIL $file $name: $smem bytes of static shared memory > $kStaticSharedBytes"
          failed=1
        fi ;;
    esac
  done <<<"$report"
  if ((kernels == 0)); then
    echo "FAIL $file: ptxas reported no kernel (the check would pass vacuously)"
    failed=1
  fi
}

if [[ "${1:-}" == "--report" ]]; then
  check "$2" "$(cat "$2")"
  exit $failed
fi
nvcc=$1 arch=$2 src=$3
shift 3
if [[ -z "$nvcc" || ! -x "$nvcc" ]]; then
  echo "SKIPPED: built without CUDA (no CUDA compiler in this build)"
  exit 77
fi
for file in "$@"; do
  report=$("$nvcc" -std=c++17 -O3 -arch="sm_$arch" -DELMAN_CUDA_ENABLED=1 -I"$src" \
    -I"$src/include" -Xptxas -v -c "$src/$file" -o /dev/null 2>&1) || { echo "$report"; exit 1; }
  check "$file" "$report"
done
exit $failed
