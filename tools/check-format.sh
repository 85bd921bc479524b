#!/usr/bin/env bash
# Checks that every tracked C++ and CUDA file is formatted as .clang-format says (CI runs it
# first, tools/test.sh). Exit 1 naming the files that differ; fix them with: clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null ||
  { echo "check-format: clang-format is missing (apt-get install clang-format)" >&2; exit 2; }
mapfile -d '' files < <(git ls-files -z '*.h' '*.cpp' '*.cuh' '*.cu')
[ ${#files[@]} -gt 0 ] || { echo "check-format: no tracked C++ or CUDA file (not a git checkout?)" >&2; exit 2; }
if ! report=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  differ=$(grep -oE '^[^:]+\.(h|cpp|cuh|cu):[0-9]+:[0-9]+: error' <<<"$report" | cut -d: -f1 | sort -u)
  echo "check-format: $(wc -l <<<"$differ") files differ from .clang-format ($(clang-format --version)):"
  sed 's/^/  /' <<<"$differ"
  echo "check-format: see the differences with clang-format --dry-run FILE; fix with clang-format -i FILE"
  exit 1
fi
echo "check-format: all ${#files[@]} C++ and CUDA files match .clang-format"
