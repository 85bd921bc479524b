// The CPU kernels with AVX-512's 16-float vectors, compiled for AVX2 (each vector two AVX2
// registers): the same blocking, reductions and column split as the AVX-512 build, runnable on
// any AVX2 machine, so the tests cover that code where no AVX-512 processor is at hand.
// Only the kernels' own headers here: anything else compiled with -mavx2 could hand AVX2 code
// to the rest of the test binary through the linker.
#include "host/cpu/kernels.h"

#if defined(__x86_64__)
#define ELMAN_SIMD_NS avx2x16
#define ELMAN_SIMD_WIDTH 16
#include "host/cpu/kernels_impl.h"
#endif

namespace elman::test {

const detail::cpu::Kernels* avx2x16_kernels() {
#if defined(__x86_64__)
  return &detail::cpu::avx2x16::table("avx2x16");
#else
  return nullptr;
#endif
}

}  // namespace elman::test
