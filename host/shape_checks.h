// Argument checks for the RNN's calls: each failure is an elman::Error naming the call, the
// tensor, the expected and the given shape, raised before any work is queued.
#pragma once

#include <string>

#include "elman/rnn.h"

namespace elman::detail {

struct SequenceDims {
  int64_t seq_len = 0, batch = 0;
};

// input: [T, B, input_size] ([B, T, input_size] with batch_first), on `device`, T >= 1.
SequenceDims check_input(const char* call, const RNNOptions& o, const Tensor& input, Device device);
// A tensor that must have exactly `expected` shape and live on `device`; undefined passes when
// `optional` is true.
void check_tensor(const char* call, const char* name, const Tensor& t, const Shape& expected,
                  Device device, bool optional);
Shape output_shape(const RNNOptions& o, SequenceDims dims);
Shape state_shape(const RNNOptions& o, SequenceDims dims);  // h0, h_n: [L*D, B, H]

}  // namespace elman::detail
