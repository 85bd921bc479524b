// Small helpers of the training tests: host <-> tensor shortcuts and seeded random values.
// (Kept here so the training tests depend on nothing but the public API and their own code.)
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "elman/elman.h"

namespace elman::train_test {

inline std::vector<float> random_floats(int64_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v)
    x = static_cast<float>((2.0 * (static_cast<double>(gen() >> 11) * 0x1.0p-53) - 1.0) * scale);
  return v;
}

inline void set(Tensor& t, const std::vector<float>& values) {
  t.copy_from(Tensor::from_vector(t.shape(), values, Device::cpu()));
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace elman::train_test
