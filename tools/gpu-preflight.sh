#!/usr/bin/env bash
# gpu-preflight.sh: the GPU check rehearsed here, without a GPU. Builds the bundle
# (tools/gpu-bundle.sh, reusing ./build), then proves what can be proved on this machine and ends
# with the line "preflight ok", or "preflight FAILED: ..." naming each failed check:
#   1. gpu-bundle/ is at most 60 MiB;
#   2. from a copy of the bundle in another folder, with no LD_LIBRARY_PATH, ldd finds every
#      library of every bundled binary and library inside the copy, the system's own aside
#      (glibc, libstdc++, libgcc_s, the CUDA driver, cuBLAS, cuDNN: gpu-bundle.sh's list);
#   3. from that copy, LD_LIBRARY_PATH holding only its lib/: every test binary lists its tests
#      and its CPU tests pass (its CUDA cases skip), reading its files through ELMAN_SOURCE_DIR;
#      the tests that read files fail when that folder is empty (no path into the source tree),
#      and no test names the source tree but through tests/source_path.h; every test that skips
#      for want of a device is selected by gpu-check.sh's CUDA filter (so the GPU stage runs it);
#   4. gpu-check.sh --dry-run walks all five stages, reports the missing device as skips, names
#      every binary in its summary and writes at most 8 flat files;
#   5. gpu-check.sh's failure paths, on a copy with broken binaries and small budgets: a binary
#      that cannot list its tests is a FAIL, one that hangs is killed at its timeout, a spent
#      budget leaves the rest NOTRUN, later stages still run, all within the budgets; a check
#      killed in its third stage keeps the first two stages' results; and run as on the GPU
#      machine (no --dry-run) with a stand-in compute-sanitizer, the missing device fails the
#      check, the sanitizer stage starts with ops_test, reads the tool's error summary, and
#      stops with a skip when the tool says "Device not supported".
# Run by tools/test.sh (CI). Usage: bash tools/gpu-preflight.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
START=$SECONDS

bash tools/gpu-bundle.sh || { echo "preflight FAILED: tools/gpu-bundle.sh"; exit 1; }
BUNDLE=$PWD/gpu-bundle
SYSTEM_LIBS=$(bash tools/gpu-bundle.sh --print-system-libs)
CUDA_FILTER=$(bash "$BUNDLE/gpu-check.sh" --print-cuda-filter)
mapfile -t TESTS <"$BUNDLE/bin/tests.txt"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/elman-preflight.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
COPY=$WORK/copy
cp -a "$BUNDLE" "$COPY"
mkdir -p "$WORK/tmp" "$WORK/run" "$WORK/empty"

FAILURES=()
ok() { echo "preflight: ok    $*"; }
fail() { echo "preflight: FAIL  $*"; FAILURES+=("$*"); }
is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | tail -c 3)" = ELF ]; }
# in_copy CMD...: runs CMD in a scratch folder with the copy's libraries and files only.
in_copy() {
  (cd "$WORK/run" && env LD_LIBRARY_PATH="$COPY/lib" ELMAN_SOURCE_DIR="$COPY/src" \
    TMPDIR="$WORK/tmp" "$@")
}

# ---- 1. size -------------------------------------------------------------------------------
bytes=$(du -sb "$BUNDLE" | cut -f1)
if [ "$bytes" -le $((60 * 1024 * 1024)) ]; then ok "size: $((bytes / 1024 / 1024)) MiB ($bytes bytes) <= 60 MiB"
else fail "size: $bytes bytes > 60 MiB"; fi

# ---- 2. libraries ---------------------------------------------------------------------------
n=0 outside=0
for f in "$COPY"/bin/* "$COPY"/lib/*; do
  is_elf "$f" || continue
  n=$((n + 1))
  elsewhere=""
  while read -r soname path; do
    grep -Eq "$SYSTEM_LIBS" <<<"$soname" && continue
    [ "$path" != not-found ] && path=$(readlink -f "$path")
    case $path in "$COPY"/lib/*) ;; *) elsewhere="$elsewhere $soname ($path)" ;; esac
  done < <(env -u LD_LIBRARY_PATH ldd "$f" 2>&1 |
    awk '$2 == "=>" { print $1, ($3 == "not" ? "not-found" : $3) } $2 != "=>" { print $1, $1 }')
  if [ -n "$elsewhere" ]; then
    outside=$((outside + 1))
    fail "libraries: $(basename "$f") loads from outside the bundle:$elsewhere"
  fi
done
[ "$outside" = 0 ] && ok "libraries: all $n bundled binaries and libraries load every library but the system's from the bundle"

# ---- 3. the test binaries from the copy -------------------------------------------------------
lint=$(grep -rn 'ELMAN_SOURCE_DIR\|ELMAN_FIXTURE_DIR' tests bench/tests --include='*.cpp' \
  --include='*.h' | grep -v '^tests/source_path.h:' | grep -Ev '^[^:]+:[0-9]+: *//')
if [ -z "$lint" ]; then ok "sources: tests find source files only through tests/source_path.h"
else fail "sources: a test names the source tree directly: $(head -n 1 <<<"$lint")"; fi

cpu_ok=0
for name in "${TESTS[@]}"; do
  bin=$COPY/bin/$name
  if ! in_copy "$bin" --gtest_list_tests >"$WORK/list.log" 2>&1; then
    fail "tests: $name cannot list its tests from the copy: $(head -n 1 "$WORK/list.log")"
    continue
  fi
  if ! in_copy "$bin" --gtest_color=no >"$WORK/$name.log" 2>&1; then
    fail "tests: $name's CPU tests fail from the copy: $(grep -m3 '^\[  FAILED  \]' "$WORK/$name.log" | paste -sd ' ' -)"
    continue
  fi
  cpu_ok=$((cpu_ok + 1))
  # Every case that skips for want of a device must be one the GPU stage selects.
  awk '/^\[ RUN      \]/ { name = $4; nd = 0 } /no CUDA device/ { nd = 1 }
       /^\[  SKIPPED \] [^ ]+ \([0-9]+ ms\)/ { if (nd) print $4; nd = 0 }' "$WORK/$name.log" |
    sort >"$WORK/needs-device.txt"
  in_copy "$bin" --gtest_list_tests --gtest_filter="$CUDA_FILTER" |
    awk '/^[^ ]/ { suite = $1 } /^  / { print suite $1 }' | sort >"$WORK/selected.txt"
  missed=$(comm -23 "$WORK/needs-device.txt" "$WORK/selected.txt" | paste -sd ' ' -)
  [ -z "$missed" ] || fail "tests: $name: skipped for want of a device but not selected by the GPU filter ($CUDA_FILTER): $missed"
done
[ "$cpu_ok" = "${#TESTS[@]}" ] && ok "tests: all ${#TESTS[@]} test binaries list their tests and pass their CPU tests from the copy; every device-only case is in the GPU filter"

for name in pytorch_fixture_test packed_fixture_test trainer_test; do
  if (cd "$WORK/run" && env LD_LIBRARY_PATH="$COPY/lib" ELMAN_SOURCE_DIR="$WORK/empty" \
    "$COPY/bin/$name" >"$WORK/empty.log" 2>&1); then
    fail "tests: $name passes with ELMAN_SOURCE_DIR empty: it reads its files from elsewhere"
  else
    ok "tests: $name fails with ELMAN_SOURCE_DIR empty (it reads its files through it)"
  fi
done

# ---- 4. the dry run -----------------------------------------------------------------------------
listing() { find "$1" -mindepth 1 -printf '%P ' 2>/dev/null; }
check_out_dir() {  # at most 8 files, flat
  local files others
  files=$(find "$1" -mindepth 1 -maxdepth 1 -type f | wc -l)
  others=$(find "$1" -mindepth 1 ! -type f | wc -l)
  [ "$files" -le 8 ] && [ "$others" = 0 ]
}
names_every_binary() {  # every binary of the bundle has a line in the summary
  local name missing=""
  for name in "${TESTS[@]}"; do grep -q "\] [A-Z/]* *$name: " "$1" || missing="$missing $name"; done
  for name in elman-bench elman-example elman-train; do grep -q "$name" "$1" || missing="$missing $name"; done
  echo "$missing"
}
t0=$SECONDS
bash "$COPY/gpu-check.sh" --dry-run "$WORK/dry" >"$WORK/dry.out" 2>&1
rc=$?
summary=$WORK/dry/summary.txt
if [ "$rc" = 0 ] && grep -q '^RESULT: DRY RUN OK' "$summary"; then
  ok "dry run: $(grep '^RESULT' "$summary") in $((SECONDS - t0)) s"
else
  fail "dry run: exit $rc, $(grep '^RESULT' "$summary" 2>/dev/null || echo 'no RESULT line'); $(grep -m3 -E '\] (FAIL|TIME|NOTRUN) ' "$summary" | paste -sd ' ' -)"
fi
for stage in 1 2 3 4 5; do grep -q "^== stage $stage/5 " "$summary" || fail "dry run: stage $stage was not walked"; done
grep -q 'SKIP .*no CUDA device' "$summary" || fail "dry run: the missing device is not reported as a skip"
missing=$(names_every_binary "$summary")
[ -z "$missing" ] || fail "dry run: the summary does not name:$missing"
check_out_dir "$WORK/dry" || fail "dry run: OUT holds more than 8 files or a folder: $(listing "$WORK/dry")"

# ---- 5. failure paths ---------------------------------------------------------------------------
# Broken copies: one binary that cannot start, three that hang (one ignoring TERM) and list a test.
BROKEN=$WORK/broken
cp -a "$COPY" "$BROKEN"
printf '#!/bin/sh\necho "%s: error while loading shared libraries: libmissing.so.1" >&2\nexit 127\n' \
  "${TESTS[0]}" >"$BROKEN/bin/${TESTS[0]}"
hang='#!/bin/bash
case "$*" in *--gtest_list_tests*) printf "Hang.\n  Cuda\n"; exit 0 ;; esac
trap "" TERM
sleep 600'
for name in "${TESTS[1]}" "${TESTS[2]}" "${TESTS[3]}"; do printf '%s\n' "$hang" >"$BROKEN/bin/$name"; done
t0=$SECONDS
ELMAN_CHECK_BUDGET_MACHINE=20 ELMAN_CHECK_BUDGET_TESTS=15 ELMAN_CHECK_BUDGET_BENCH=20 \
  ELMAN_CHECK_BUDGET_PACKAGE=20 ELMAN_CHECK_BUDGET_SANITIZER=10 ELMAN_CHECK_BINARY_TIMEOUT=4 \
  bash "$BROKEN/gpu-check.sh" --dry-run "$WORK/broken-out" >"$WORK/broken.out" 2>&1
rc=$?
elapsed=$((SECONDS - t0))
summary=$WORK/broken-out/summary.txt
expect() {  # expect WHAT PATTERN: the broken run's summary has a line matching PATTERN
  if grep -Eq "$2" "$summary"; then ok "failure paths: $1"; else fail "failure paths: $1 (no line matching '$2')"; fi
}
expect "a binary that cannot list its tests is a FAIL" "FAIL +${TESTS[0]}: cannot list its tests"
expect "a hanging binary is killed at its timeout" "TIME +${TESTS[1]}: killed after"
expect "a spent stage budget leaves the rest NOTRUN" "NOTRUN +[a-z_]+: not run, the stage's budget was spent"
expect "later stages still run" "^== stage 5/5 sanitizer"
expect "the result says FAILED" "^RESULT: FAILED"
[ "$rc" = 1 ] || fail "failure paths: exit status $rc, expected 1"
missing=$(names_every_binary "$summary")
[ -z "$missing" ] || fail "failure paths: the summary does not name:$missing"
if [ "$elapsed" -le $((20 + 15 + 20 + 20 + 10 + 10)) ]; then ok "failure paths: done in $elapsed s, within the budgets (85 s)"
else fail "failure paths: took $elapsed s, over the budgets (85 s)"; fi
check_out_dir "$WORK/broken-out" || fail "failure paths: OUT holds more than 8 files or a folder"

# A check killed in its third stage (a hanging elman-bench) keeps the first two stages' results.
printf '%s\n' "$hang" >"$BROKEN/bin/elman-bench"
cp "$COPY/bin/${TESTS[0]}" "$COPY/bin/${TESTS[1]}" "$COPY/bin/${TESTS[2]}" "$COPY/bin/${TESTS[3]}" "$BROKEN/bin/"
ELMAN_CHECK_BUDGET_TESTS=12 setsid bash "$BROKEN/gpu-check.sh" --dry-run "$WORK/killed-out" \
  >"$WORK/killed.out" 2>&1 &
check_pid=$!
for _ in $(seq 1 240); do
  grep -q '^== stage 3/5 bench' "$WORK/killed-out/summary.txt" 2>/dev/null && break
  sleep 0.5
done
sleep 1
kill -KILL -- "-$check_pid" 2>/dev/null
wait "$check_pid" 2>/dev/null
summary=$WORK/killed-out/summary.txt
if grep -q '^== stage 3/5 bench' "$summary" && ! grep -q '^RESULT' "$summary" &&
  grep -q '^\[tests' "$summary" && [ -s "$WORK/killed-out/tests.log" ] && [ -s "$WORK/killed-out/machine.txt" ]; then
  ok "failure paths: killed in stage 3, the check kept stages 1 and 2 (summary, machine.txt, tests.log)"
else
  fail "failure paths: killed in stage 3, earlier results are missing from $(listing "$WORK/killed-out")"
fi

# As on the GPU machine, with a stand-in compute-sanitizer: it runs the first binary it is given
# and finds the device unsupported for the second.
mkdir -p "$WORK/fake-bin"
cat >"$WORK/fake-bin/compute-sanitizer" <<'FAKE'
#!/bin/bash
while [ $# -gt 0 ]; do case $1 in --tool | --error-exitcode | --report-api-errors) shift 2 ;; *) break ;; esac; done
count=$TMPDIR/stand-in-sanitizer-calls
n=$(($(cat "$count" 2>/dev/null || echo 0) + 1))
echo "$n" >"$count"
[ "$n" -ge 2 ] && { echo "========= Error: Device not supported"; exit 1; }
"$@"
rc=$?
echo "========= ERROR SUMMARY: 0 errors"
exit $rc
FAKE
chmod +x "$WORK/fake-bin/compute-sanitizer"
as_on_the_gpu_machine() {
  PATH="$WORK/fake-bin:$PATH" ELMAN_CHECK_BUDGET_BENCH=15 ELMAN_CHECK_BUDGET_PACKAGE=15 \
    ELMAN_CHECK_BUDGET_SANITIZER=40 bash "$COPY/gpu-check.sh" "$WORK/as-gpu" >"$WORK/as-gpu.out" 2>&1
  local rc=$?
  summary=$WORK/as-gpu/summary.txt
  if [ "$rc" = 1 ] && grep -q '^RESULT: FAILED' "$summary" && grep -q 'FAIL   no GPU' "$summary"; then
    ok "without --dry-run: the missing device fails the check"
  else
    fail "without --dry-run: exit $rc, $(grep '^RESULT' "$summary" 2>/dev/null || echo 'no RESULT line')"
  fi
  if grep -q 'SKIP   memcheck: not supported here (gVisor' "$summary"; then
    ok "sanitizer stage: skipped under gVisor (this machine runs under gVisor)"
    return
  fi
  expect "the sanitizer stage starts with ops_test and reads the error summary" \
    '^\[sanitizer\] PASS   memcheck ops_test: ERROR SUMMARY: 0 errors'
  expect "the sanitizer stage skips when the tool says 'Device not supported'" \
    '^\[sanitizer\] SKIP   memcheck: not supported here \(Device not supported'
}
if nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  echo "preflight: (a GPU is present: the run as on the GPU machine is not rehearsed here)"
else
  as_on_the_gpu_machine
fi

echo "preflight: $((SECONDS - START)) s in all"
if [ ${#FAILURES[@]} -eq 0 ]; then
  echo "preflight ok"
else
  echo "preflight FAILED (${#FAILURES[@]}): $(printf '%s; ' "${FAILURES[@]}")"
  exit 1
fi
