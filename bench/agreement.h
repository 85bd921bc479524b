// elman's side of a shape's agreement check, shared by the GPU and CPU benches: one inference,
// one training forward and one backward on one input set, downloaded for comparison with a peer.
#pragma once

#include <cstdint>
#include <vector>

#include "elman/elman.h"

namespace elman::bench {

// elman's results on one input set, on the host.
struct ElmanResults {
  std::vector<float> y_inference, y, h_n, dx, dh0, dw;
  int64_t pad_y_inference = 0, pad_y = 0, pad_dx = 0;  // nonzero values past the ends (varlen)
};

// Runs rnn.forward_into, forward_train_into and backward_into (gradients zeroed first) on x
// [T, B, I], h0 and dhy [L*D, B, H] and dy [T, B, D*H] with `lengths` (empty: all T), through the
// caller's result objects, so that these calls also size every workspace the timed runs reuse.
ElmanResults elman_results(RNN& rnn, const Tensor& x, const Tensor& h0, const Tensor& dy,
                           const Tensor& dhy, const std::vector<int64_t>& lengths,
                           RNNOutput& inference, RNNOutput& train, RNNCache& cache,
                           RNNInputGrads& grads);

}  // namespace elman::bench
