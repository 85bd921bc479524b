// The CPU kernels for AVX2 + FMA: 8-float vectors. CMake compiles this file alone with
// -mavx2 -mfma (on x86-64 only); it runs only where kernels_for() has checked the processor
// supports both.
#define ELMAN_SIMD_NS avx2
#define ELMAN_SIMD_WIDTH 8
#include "host/cpu/kernels_impl.h"

const elman::detail::cpu::Kernels* elman::detail::cpu::avx2_kernels() {
  return &avx2::table("avx2");
}
