// The activations on SIMD vectors: tanh (Cephes' float algorithm, vectorized; max error
// measured over every float in its test), relu, and their derivatives from the output. NaN in
// gives NaN out, as in PyTorch.
#pragma once

#include "host/cpu/simd.h"

namespace elman::detail::cpu::ELMAN_SIMD_NS {

// tanh(x): for |x| < 0.625 the odd polynomial x + x^3 P(x^2) (Cephes tanhf); above,
// 1 - 2 / (exp(2|x|) + 1) with the sign of x, exp by Cephes expf (Cody-Waite reduction by ln 2,
// degree-6 polynomial, 2^n from the exponent bits). |x| is clamped at 10, where tanh rounds to
// +-1 in float. Both branches run on every lane and the result is picked per lane.
ELMAN_SIMD_INLINE Vec tanh(Vec x) {
  const IVec sign = as_int(x) & static_cast<int32_t>(0x80000000u);
  const Vec ax = as_float(as_int(x) ^ sign);  // tanh is odd: computed on |x|, the sign put back

  const Vec z = ax * ax;
  Vec p = splat(-5.70498872745e-3f);
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const Vec small = p * z * ax + ax;

  Vec y = ax + ax;
  y = select(y < 20.0f, y, splat(20.0f));
  const Vec round_magic = splat(12582912.0f);  // 1.5 * 2^23: y + it - it rounds y to an integer
  const Vec n = (y * 1.44269504088896341f + round_magic) - round_magic;
  Vec r = y - n * 0.693359375f;  // ln 2 in two parts, so r is exact
  r = r - n * -2.12194440e-4f;
  Vec e = splat(1.9875691500e-4f);
  e = e * r + 1.3981999507e-3f;
  e = e * r + 8.3334519073e-3f;
  e = e * r + 4.1665795894e-2f;
  e = e * r + 1.6666665459e-1f;
  e = e * r + 5.0000001201e-1f;
  e = e * (r * r) + r + 1.0f;
  e = e * as_float((__builtin_convertvector(n, IVec) + 127) << 23);  // * 2^n
  const Vec large = 1.0f - 2.0f / (e + 1.0f);

  const Vec t = as_float(as_int(select(ax < 0.625f, small, large)) | sign);
  return select(x == x, t, x);  // NaN stays NaN
}

// relu(a) = a for a > 0, 0 for a <= 0, NaN for NaN: a where !(a <= 0).
ELMAN_SIMD_INLINE Vec relu(Vec a) { return as_float(as_int(a) & ~(a <= 0.0f)); }

// f'(a) times g, from the output h = f(a): tanh: g (1 - h^2); relu: g [h > 0], NaN where h is.
ELMAN_SIMD_INLINE Vec tanh_backward(Vec g, Vec h) { return g * (1.0f - h * h); }
ELMAN_SIMD_INLINE Vec relu_backward(Vec g, Vec h) {
  return select(h > 0.0f, g, select(h == h, Vec{}, h));
}

}  // namespace elman::detail::cpu::ELMAN_SIMD_NS
