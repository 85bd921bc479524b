// init_uniform: PyTorch's U(-1/sqrt(fan), 1/sqrt(fan)) initialisation, in chunks (host/init.h).
#include "host/init.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace elman::detail {

void init_uniform(Tensor& t, int64_t fan, uint64_t seed) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan));
  std::mt19937_64 gen(seed);
  constexpr int64_t kChunk = int64_t{1} << 20;
  const int64_t total = t.numel();
  std::vector<float> chunk;
  for (int64_t begin = 0; begin < total; begin += kChunk) {
    const int64_t n = std::min(kChunk, total - begin);
    chunk.resize(static_cast<size_t>(n));
    for (float& v : chunk) v = static_cast<float>(uniform_value(gen(), bound));
    t.view({n}, begin).copy_from(Tensor::from_vector({n}, chunk));
  }
}

}  // namespace elman::detail
