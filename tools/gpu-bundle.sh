#!/usr/bin/env bash
# gpu-bundle.sh: builds elman for the GPU machine (Release, sm_90, in ./build) and writes the
# ignored folder gpu-bundle/, all that bench/gpu-check.sh needs there (a machine with the CUDA
# driver, cuBLAS and PyTorch's cuDNN, but no GoogleTest, no OpenBLAS and no internet):
#   gpu-check.sh     the check: bash gpu-bundle/gpu-check.sh OUT
#   bin/             every test binary with a CUDA case (named in bin/tests.txt), elman-bench with
#                    pytorch_cpu.py,
#                    elman-train and elman-example; RUNPATH $ORIGIN/../lib
#   lib/             libelman.so.0 and every shared library the binaries need that is not a
#                    system library below (OpenBLAS, libgfortran, libquadmath); RUNPATH $ORIGIN
#   src/             the source files the tests read (fixtures, data sets, scripts), found
#                    through ELMAN_SOURCE_DIR, which gpu-check.sh sets
#   BUNDLE-INFO.txt  the commit, the build, the toolchain, what the binaries need of the system
# Not carried (the GPU machine has them; gpu-check.sh finds cuBLAS and cuDNN there): glibc,
# libstdc++, libgcc_s, the CUDA driver, cuBLAS, cuDNN. GoogleTest is linked statically.
# At most 60 MiB; our binaries are stripped.
# Usage: bash tools/gpu-bundle.sh                     (then send gpu-bundle/ to the GPU machine)
#        bash tools/gpu-bundle.sh --print-system-libs (the regex of the libraries not carried)
set -euo pipefail
cd "$(dirname "$0")/.."

# Sonames the GPU machine provides, matched against ldd's names (anchored extended regex).
SYSTEM_LIBS='^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libcuda\.so\.1|libcublas(Lt)?\.so\.13|libcudnn[a-z_]*\.so\.9)$'
if [ "${1:-}" = --print-system-libs ]; then echo "$SYSTEM_LIBS"; exit 0; fi
[ $# -eq 0 ] || { echo "usage: bash tools/gpu-bundle.sh [--print-system-libs]" >&2; exit 2; }

MAX_BYTES=$((60 * 1024 * 1024))
BUILD=build
OUT=gpu-bundle

# The build: tools/setup.sh installs what is missing (patchelf among it) and builds ./build;
# with CUDA, required (a bundle for the GPU without it would be no use), and for Hopper, sm_90
# (the default of CMakeLists.txt, said again in case ./build has another).
ELMAN_WITH_CUDA=ON bash tools/setup.sh -DCMAKE_CUDA_ARCHITECTURES=90
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
[ "$(cache_value CMAKE_BUILD_TYPE)" = Release ] || { echo "gpu-bundle: $BUILD is not a Release build" >&2; exit 1; }
[ "$(cache_value CMAKE_CUDA_ARCHITECTURES)" = 90 ] || { echo "gpu-bundle: $BUILD is not built for sm_90" >&2; exit 1; }
command -v patchelf >/dev/null || { echo "gpu-bundle: patchelf is missing (apt-get install patchelf)" >&2; exit 1; }

# The test binaries: every executable gtest_discover_tests registered in the build that holds a
# CUDA case (tests/README.md: every device case says Cuda in its name); the others test the CPU
# alone, which CI does, and would only take room in the 60 MiB. Not the oneDNN peer's either:
# its plugin and libdnnl (40 MB) the GPU machine does not get.
mapfile -t REGISTERED < <(find "$BUILD" -name '*_include.cmake' -exec \
  sed -n 's/.*TEST_EXECUTABLE \[==\[\(.*\)\]==\].*/\1/p' {} + | sort -u |
  grep -v '/bench_onednn_test$')
TESTS=()
for f in "${REGISTERED[@]}"; do
  "$f" --gtest_list_tests 2>/dev/null | grep -qi cuda && TESTS+=("$f")
done
[ ${#TESTS[@]} -gt 0 ] || { echo "gpu-bundle: no test binaries with CUDA cases in $BUILD" >&2; exit 1; }
PROGRAMS=("$BUILD/bench/elman-bench" "$BUILD/demo/elman-train" "$BUILD/elman-example")

is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | tail -c 3)" = ELF ]; }
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/src"
for f in "${TESTS[@]}" "${PROGRAMS[@]}"; do
  [ -x "$f" ] || { echo "gpu-bundle: $f was not built" >&2; exit 1; }
  cp "$f" "$OUT/bin/"
done
for f in "${TESTS[@]}"; do basename "$f"; done >"$OUT/bin/tests.txt"
cp "$BUILD/bench/pytorch_cpu.py" "$OUT/bin/"
cp -L "$BUILD/libelman.so.0" "$OUT/lib/libelman.so.0"
# $ORIGIN is for the dynamic loader, not the shell.
# shellcheck disable=SC2016
for f in "$OUT"/bin/* "$OUT/lib/libelman.so.0"; do
  is_elf "$f" || continue
  strip --strip-unneeded "$f"
  case $f in
    */bin/*) patchelf --set-rpath '$ORIGIN/../lib' "$f" ;;
    *) patchelf --set-rpath '$ORIGIN' "$f" ;;
  esac
done

# Every other library the binaries load, copied under its soname: ldd lists them transitively.
for f in "$OUT"/bin/* "$OUT"/lib/*; do
  is_elf "$f" || continue
  ldd "$f" | awk '$2 == "=>" { print $1, $3 } $2 != "=>" { print $1, "" }'
done | sort -u | while read -r soname path; do
  grep -Eq "$SYSTEM_LIBS" <<<"$soname" && continue
  [ -e "$OUT/lib/$soname" ] && continue
  if [ -z "$path" ] || [ "$path" = not ]; then echo "gpu-bundle: $soname not found on this machine" >&2; exit 1; fi
  cp -L "$path" "$OUT/lib/$soname"
  chmod u+w "$OUT/lib/$soname"
  # shellcheck disable=SC2016
  patchelf --set-rpath '$ORIGIN' "$OUT/lib/$soname"
done

# The files the tests read from the source tree, at the same relative paths.
for p in tests/fixtures tests/sequences/fixtures data tests/io/safetensors_interop.py \
  tests/train/torch_roundtrip.py; do
  mkdir -p "$OUT/src/$(dirname "$p")"
  cp -r "$p" "$OUT/src/$p"
done
cp bench/gpu-check.sh "$OUT/gpu-check.sh"

max_version() {  # the highest symbol version of family $1 that the bundle's ELF files need
  for f in "$OUT"/bin/* "$OUT"/lib/*; do is_elf "$f" && objdump -T "$f"; done 2>/dev/null |
    grep -o "$1_[0-9.]*" | sort -uV | tail -n 1
}
shared=$({ grep -rlE '__shared__|__syncthreads|__syncwarp|grid_group|this_grid|cooperative_groups' \
  kernels || true; } | paste -sd ' ' -)
{
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "build: $(cache_value CMAKE_BUILD_TYPE), CUDA architectures $(cache_value CMAKE_CUDA_ARCHITECTURES)"
  echo "nvcc: $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo unknown)"
  echo "c++: $("$(cache_value CMAKE_CXX_COMPILER)" --version | head -n 1)"
  echo "needs of the system: glibc $(max_version GLIBC), libstdc++ $(max_version GLIBCXX)," \
    "$(max_version CXXABI)"
  echo "system libraries (not carried): $SYSTEM_LIBS"
  echo "carried libraries: $(find "$OUT/lib" -mindepth 1 -printf '%f\n' | sort | paste -sd ' ' -)"
  echo "test binaries: $(paste -sd ' ' - <"$OUT/bin/tests.txt")"
  echo "shared memory or barriers: ${shared:-none}"
} >"$OUT/BUNDLE-INFO.txt"

bytes=$(du -sb "$OUT" | cut -f1)
echo "gpu-bundle: $OUT/ holds $(wc -l <"$OUT/bin/tests.txt") test binaries, 3 programs and" \
  "$(find "$OUT/lib" -mindepth 1 | wc -l) libraries: $((bytes / 1024 / 1024)) MiB ($bytes bytes)"
if [ "$bytes" -gt "$MAX_BYTES" ]; then
  echo "gpu-bundle: over the 60 MiB the GPU machine's transfer allows (with the working tree)" >&2
  exit 1
fi
echo "gpu-bundle: on the GPU machine, with gpu-bundle/ sent along: bash gpu-bundle/gpu-check.sh OUT"
