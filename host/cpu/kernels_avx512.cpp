// The CPU kernels for AVX-512F: 16-float vectors. CMake compiles this file alone with
// -mavx512f -mavx2 -mfma; it runs only where kernels_for() has checked the processor supports it.
#include "host/cpu/kernels.h"

#if defined(__x86_64__)
#define ELMAN_SIMD_NS avx512
#define ELMAN_SIMD_WIDTH 16
#include "host/cpu/kernels_impl.h"
#endif

namespace elman::detail::cpu {

const Kernels* avx512_kernels() {
#if defined(__x86_64__)
  static const Kernels kernels = avx512::make_kernels("avx512");
  return &kernels;
#else
  return nullptr;
#endif
}

}  // namespace elman::detail::cpu
