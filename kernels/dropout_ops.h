// Dropout between layers (RNNOptions::dropout): element i of a layer's output is kept with
// probability 1 - p and scaled by 1 / (1 - p), else zeroed. Whether it is kept is a pure function
// of (seed, call, layer, i) through Philox4x32-10, so the CPU and the GPU draw the same mask,
// and backward regenerates the forward's mask instead of storing it.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace elman::detail {

// Which mask: the model's seed, its forward_train call counter, and the layer whose output
// is dropped.
struct DropoutStream {
  uint64_t seed = 0;
  uint64_t call = 0;
  uint32_t layer = 0;
  float p = 0.0f;  // in [0, 1)

  // Whether element i is kept: counter (i / 4, layer, call low, call high), key the seed;
  // the 4 outputs of one counter serve 4 consecutive elements.
  ELMAN_HD bool keeps(int64_t i) const {
    const Philox4 r =
        philox4x32_10(Philox4{{static_cast<uint32_t>(static_cast<uint64_t>(i) >> 2), layer,
                               static_cast<uint32_t>(call), static_cast<uint32_t>(call >> 32)}},
                      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    return uniform_from_bits(r.v[i & 3]) >= p;
  }
};

// out[i] = in[i] * scale where the mask keeps element i, else 0 (in may be out: backward
// applies the mask to a gradient in place).
struct ApplyDropout {
  const float* in;
  float* out;
  int64_t n;
  DropoutStream stream;
  float scale;  // 1 / (1 - p)
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const { out[i] = stream.keeps(i) ? in[i] * scale : 0.0f; }
};

// The largest element count a mask can index: i / 4 is a 32-bit counter word.
constexpr int64_t kMaxDropoutElements = int64_t{1} << 34;

}  // namespace elman::detail
