// PyTorch's uniform initialisation (reset_parameters of nn.RNN and nn.Linear): every value from
// U(-bound, bound), drawn from std::mt19937_64 so a seed means the same weights everywhere.
#pragma once

#include <cstdint>

#include "elman/tensor.h"

namespace elman::detail {

// The i-th draw of a generator seeded with `seed`, mapped to U(-bound, bound): u = (g() >> 11)
// * 2^-53 in [0, 1), then (2u - 1) * bound, rounded to float.
float uniform_draw(uint64_t raw, double bound);

// Fills `t` (any device) with consecutive draws of std::mt19937_64(seed), generated and copied
// in bounded chunks so the host never holds a second full copy of a large model.
void fill_uniform(Tensor& t, double bound, uint64_t seed);

}  // namespace elman::detail
