// PyTorch's unbatched input ([T, I] with h0 [L*D, H]): a batch of one. The public calls view
// the caller's tensors as batched ones, run the batched code, and view the results back.
#pragma once

#include "elman/rnn.h"

namespace elman::detail {

// Whether `input` (a model's sequence input) is unbatched: two dimensions instead of three.
inline bool is_unbatched(const Tensor& input) { return input.defined() && input.dim() == 2; }

// The batched views of an unbatched forward's arguments and results. A result the caller
// passed with the unbatched shape is viewed, so it is still written in place.
struct UnbatchedForward {
  Tensor input, h0;  // [T, 1, I] ([1, T, I] with batch_first), [L*D, 1, H]
  RNNOutput result;
  int batch_dim;  // where the batch of one sits in input and output
  UnbatchedForward(const char* call, const RNNOptions& o, Device device, const Tensor& input,
                   const Tensor& h0, const RNNOutput& user);
  void finish(RNNOutput& user) const;  // the results viewed as [T, D*H] and [L*D, H]
};

// The same for backward over a cache filled from unbatched input.
struct UnbatchedBackward {
  Tensor grad_output, grad_h_n;  // [T, 1, D*H] (or [1, T, D*H]), [L*D, 1, H]
  RNNInputGrads result;
  int batch_dim;
  UnbatchedBackward(const char* call, const RNNOptions& o, Device device, int64_t seq_len,
                    const Tensor& grad_output, const Tensor& grad_h_n, const RNNInputGrads& user);
  void finish(RNNInputGrads& user) const;  // the results viewed as [T, I] and [L*D, H]
};

}  // namespace elman::detail
