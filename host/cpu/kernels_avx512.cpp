// The CPU kernels for AVX-512F: 16-float vectors. CMake compiles this file alone with
// -mavx512f -mavx2 -mfma (on x86-64 only); it runs only where kernels_for() has checked the
// processor supports it.
#define ELMAN_SIMD_NS avx512
#define ELMAN_SIMD_WIDTH 16
#include "host/cpu/kernels_impl.h"

const elman::detail::cpu::Kernels* elman::detail::cpu::avx512_kernels() {
  return &avx512::table("avx512");
}
