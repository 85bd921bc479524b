// The CPU kernels for AVX2 + FMA: 8-float vectors. CMake compiles this file alone with
// -mavx2 -mfma; it runs only where kernels_for() has checked the processor supports both.
#include "host/cpu/kernels.h"

#if defined(__x86_64__)
#define ELMAN_SIMD_NS avx2
#define ELMAN_SIMD_WIDTH 8
#include "host/cpu/kernels_impl.h"
#endif

namespace elman::detail::cpu {

const Kernels* avx2_kernels() {
#if defined(__x86_64__)
  static const Kernels kernels = avx2::make_kernels("avx2");
  return &kernels;
#else
  return nullptr;
#endif
}

}  // namespace elman::detail::cpu
