// Run-time choice of the CPU kernels' instruction set: what the processor (and its operating
// system, which must save the wider registers) supports, asked once through cpuid.
#include "host/cpu/kernels.h"

namespace elman::detail::cpu {

namespace {
bool supports(Isa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports checks both the cpuid bits and the OS's XSAVE state (XGETBV).
  switch (isa) {
    case Isa::kBaseline:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::kBaseline;
#endif
}
}  // namespace

const Kernels* kernels_for(Isa isa) {
  if (!supports(isa)) return nullptr;
  switch (isa) {
    case Isa::kBaseline:
      return &baseline_kernels();
    case Isa::kAvx2:
      return avx2_kernels();
    case Isa::kAvx512:
      return avx512_kernels();
  }
  return nullptr;
}

Isa best_isa() {
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2})
    if (kernels_for(isa)) return isa;
  return Isa::kBaseline;
}

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::kBaseline:
      return "baseline";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

}  // namespace elman::detail::cpu
