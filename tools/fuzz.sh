#!/usr/bin/env bash
# Builds the safetensors fuzz target (libFuzzer + AddressSanitizer + UBSan, clang) and runs it
# for a bounded time over fuzz/corpus. Usage: tools/fuzz.sh [seconds=60] [build-dir=build-fuzz]
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
mkdir -p "$out/corpus" "$out/artifacts"
# Only CUDA-free sources: the reader, the encoder (for the round-trip check), the target.
"$cxx" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Iinclude -I. fuzz/safetensors_fuzz.cpp host/safetensors.cpp host/safetensors_header.cpp \
  host/safetensors_write.cpp \
  -o "$out/safetensors_fuzz"
# New inputs go to $out/corpus (the first directory); fuzz/corpus stays as committed.
"$out/safetensors_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict=fuzz/safetensors.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
  ${FUZZ_ARGS:-} "$out/corpus" fuzz/corpus
