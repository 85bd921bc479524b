// fill_uniform: PyTorch's U(-bound, bound) initialisation, in chunks (host/init.h).
#include "host/init.h"

#include <algorithm>
#include <random>
#include <vector>

namespace elman::detail {

float uniform_draw(uint64_t raw, double bound) {
  const double u = static_cast<double>(raw >> 11) * 0x1.0p-53;  // [0, 1)
  return static_cast<float>((2.0 * u - 1.0) * bound);
}

void fill_uniform(Tensor& t, double bound, uint64_t seed) {
  std::mt19937_64 gen(seed);
  constexpr int64_t kChunk = int64_t{1} << 20;
  const int64_t total = t.numel();
  std::vector<float> chunk;
  for (int64_t begin = 0; begin < total; begin += kChunk) {
    const int64_t n = std::min(kChunk, total - begin);
    chunk.resize(static_cast<size_t>(n));
    for (float& v : chunk) v = uniform_draw(gen(), bound);
    t.view({n}, begin).copy_from(Tensor::from_vector({n}, chunk));
  }
}

}  // namespace elman::detail
