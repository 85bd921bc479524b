// PyTorch's uniform initialisation (reset_parameters of nn.RNN and nn.Linear): every value from
// U(-bound, bound), drawn from std::mt19937_64 so a seed means the same weights everywhere.
#pragma once

#include <cstdint>

#include "elman/tensor.h"

namespace elman::detail {

// One draw `raw` of std::mt19937_64 mapped to U(-bound, bound): u = (raw >> 11) * 2^-53 in
// [0, 1), then (2u - 1) * bound (no std distribution, so the values are the same everywhere).
// The parameters are these values rounded to float; the tests draw their inputs with it too.
inline double uniform_value(uint64_t raw, double bound) {
  const double u = static_cast<double>(raw >> 11) * 0x1.0p-53;  // [0, 1)
  return (2.0 * u - 1.0) * bound;
}

// PyTorch's reset_parameters: fills `t` (any device) from U(-k, k), k = 1/sqrt(fan) (nn.RNN:
// fan = hidden_size; nn.Linear: fan = in_features), with consecutive draws of
// std::mt19937_64(seed), generated and copied in bounded chunks so the host never holds a
// second full copy of a large model.
void init_uniform(Tensor& t, int64_t fan, uint64_t seed);

}  // namespace elman::detail
