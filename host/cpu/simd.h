// SIMD vectors for the CPU kernels: GCC/Clang vector extensions whose width is set by the
// including translation unit, so one kernel body serves SSE2, AVX2 and AVX-512
// (host/cpu/README.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

// Each kernels_<isa>.cpp defines these before including: a namespace of its own (every inline
// function here is then a distinct symbol per instruction set, so the linker can never hand
// AVX-512 code to a caller on a machine without it) and the vector width in floats.
#if !defined(ELMAN_SIMD_NS) || !defined(ELMAN_SIMD_WIDTH)
#error "host/cpu/simd.h is included by a kernels_<isa>.cpp that defines ELMAN_SIMD_NS and _WIDTH"
#endif

#define ELMAN_SIMD_INLINE inline __attribute__((always_inline))
// Loops over a block's registers have constant trip counts: unrolled, the accumulators stay
// in registers instead of a stack array.
#define ELMAN_UNROLL _Pragma("GCC unroll 16")

namespace elman::detail::cpu::ELMAN_SIMD_NS {

constexpr int kWidth = ELMAN_SIMD_WIDTH;
typedef float Vec __attribute__((vector_size(kWidth * sizeof(float))));
typedef int32_t IVec __attribute__((vector_size(kWidth * sizeof(int32_t))));

// {s, s, ..., s}. (Not Vec{} + s: 0 + s is not s for s = -0, so the compiler must add.)
template <int... I>
ELMAN_SIMD_INLINE Vec splat_lanes(float s, std::integer_sequence<int, I...>) {
  return Vec{((void)I, s)...};
}
ELMAN_SIMD_INLINE Vec splat(float s) {
  return splat_lanes(s, std::make_integer_sequence<int, kWidth>());
}
ELMAN_SIMD_INLINE Vec as_float(IVec i) { return reinterpret_cast<Vec>(i); }
ELMAN_SIMD_INLINE IVec as_int(Vec f) { return reinterpret_cast<IVec>(f); }

// Unaligned loads and stores (memcpy compiles to one vector move).
ELMAN_SIMD_INLINE Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ELMAN_SIMD_INLINE void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }

// The first n < kWidth floats at p, the other lanes zero; never reads past p + n.
ELMAN_SIMD_INLINE Vec load_partial(const float* p, int n) {
  float buf[kWidth] = {};
  std::memcpy(buf, p, sizeof(float) * static_cast<size_t>(n));
  return load(buf);
}
ELMAN_SIMD_INLINE void store_partial(float* p, Vec v, int n) {
  float buf[kWidth];
  store(buf, v);
  std::memcpy(p, buf, sizeof(float) * static_cast<size_t>(n));
}

// a where mask is set, else b (mask lanes are all ones or all zeros, as comparisons give).
ELMAN_SIMD_INLINE Vec select(IVec mask, Vec a, Vec b) {
  return as_float((as_int(a) & mask) | (as_int(b) & ~mask));
}

// Lane i of the result is the sum of all lanes of acc[i]. A tree of kWidth - 1 pairwise steps:
// each step takes two vectors holding groups of w lanes and adds the halves of every group, so
// log2(kWidth) levels turn kWidth vectors into one (the dot-product kernels' final reduction).
namespace reduce_detail {
constexpr int source_lane(int w, int lane, bool upper_half) {
  return (lane / (w / 2)) * w + (upper_half ? w / 2 : 0) + lane % (w / 2);
}
template <int w, int... I>
ELMAN_SIMD_INLINE Vec add_group_halves(Vec a, Vec b, std::integer_sequence<int, I...>) {
  return __builtin_shufflevector(a, b, source_lane(w, I, false)...) +
         __builtin_shufflevector(a, b, source_lane(w, I, true)...);
}
template <int w>
ELMAN_SIMD_INLINE Vec reduce_level(Vec* v) {  // w vectors with groups of w lanes
  if constexpr (w == 1) {
    return v[0];
  } else {
    ELMAN_UNROLL
    for (int i = 0; i < w / 2; ++i)
      v[i] = add_group_halves<w>(v[2 * i], v[2 * i + 1], std::make_integer_sequence<int, kWidth>());
    return reduce_level<w / 2>(v);
  }
}
}  // namespace reduce_detail

ELMAN_SIMD_INLINE Vec sum_each(Vec (&acc)[kWidth]) {
  return reduce_detail::reduce_level<kWidth>(acc);
}

}  // namespace elman::detail::cpu::ELMAN_SIMD_NS
