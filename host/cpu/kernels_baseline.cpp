// The CPU kernels for any processor: 4-float vectors (SSE2 on x86-64, NEON on ARM), compiled
// with the library's default flags. Always present, so every machine has a table.
#define ELMAN_SIMD_NS baseline
#define ELMAN_SIMD_WIDTH 4
#include "host/cpu/kernels_impl.h"

const elman::detail::cpu::Kernels& elman::detail::cpu::baseline_kernels() {
  return baseline::table("baseline");
}
