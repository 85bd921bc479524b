#!/bin/bash
# Installs the built library into a fresh prefix, then configures, builds and runs the separate
# project examples/consumer against it with find_package(elman), as a user would: with no CUDA
# toolkit, in either configuration of elman (find_package(CUDAToolkit) is disabled for it); and
# runs the installed programs from the prefix (they find libelman through their $ORIGIN/../lib
# RUNPATH).
# Usage: consumer_test.sh <cmake> <elman build dir> <consumer source dir> <scratch dir>
#                         <c++ compiler> [c++ flags, e.g. the sanitizer flags of an ASan build]
set -euo pipefail
cmake_bin=$1 build_dir=$2 source_dir=$3 scratch=$4 cxx=$5 cxx_flags=${6:-}

rm -rf "$scratch"
mkdir -p "$scratch"
"$cmake_bin" --install "$build_dir" --prefix "$scratch/prefix" > "$scratch/install.log"
# The exported target must not hand CUDA's libraries to the consumer's link (they are private
# dependencies of the shared library).
package_dir=$(dirname "$(find "$scratch/prefix" -name elmanConfig.cmake)")
if grep -n "CUDA::\|CUDAToolkit" "$package_dir"/elmanTargets*.cmake; then
  echo "consumer_test: the exported elman targets name CUDA (above)" >&2
  exit 1
fi
# The consumer sees only the installed package: no path into the source or build tree.
"$cmake_bin" -S "$source_dir" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON
"$cmake_bin" --build "$scratch/build"
"$scratch/build/elman_consumer"
# Every program the build made (demo/elman-train, bench/elman-bench) is installed and starts.
for built in "$build_dir/demo/elman-train" "$build_dir/bench/elman-bench"; do
  [ -x "$built" ] || continue
  program=$(basename "$built")
  "$scratch/prefix/bin/$program" --help > "$scratch/$program-help.log"
  echo "installed $program starts"
done
