#!/usr/bin/env bash
# Builds the safetensors fuzz target (libFuzzer + AddressSanitizer + UBSan, clang: the fuzz
# preset) and runs it for a bounded time over fuzz/corpus.
# Usage: tools/fuzz.sh [seconds=60] [build-dir=build-fuzz]
# Extra libFuzzer flags go in $FUZZ_ARGS (e.g. FUZZ_ARGS="-max_len=65536 -jobs=2").
# Exit status: 0 when no finding; otherwise libFuzzer's, with the crashing input in
# <build-dir>/artifacts/ (reproduce: <build-dir>/safetensors_fuzz <that file>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out="${2:-build-fuzz}"
cxx="${FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}"
if [[ -z "$cxx" ]]; then
  echo "tools/fuzz.sh: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
# The fuzz preset (CMakePresets.json): the target alone, built with clang in $out.
cmake --preset fuzz -B "$out" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$out" --target safetensors_fuzz -j"$(nproc)"
mkdir -p "$out/corpus" "$out/artifacts"
# New inputs go to $out/corpus (the first directory); fuzz/corpus stays as committed.
"$out/safetensors_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict=fuzz/safetensors.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
  ${FUZZ_ARGS:-} "$out/corpus" fuzz/corpus
