// The internal state behind elman::RNN: its scratch buffers and what a training forward saves
// (RNNCache::State). Shapes are stated once here; orchestration indexes them as stated.
#pragma once

#include <vector>

#include "elman/rnn.h"
#include "host/param_layout.h"
#include "kernels/step_ops.h"

namespace elman {

namespace detail {
inline Activation activation_of(const RNNOptions& o) {
  return o.nonlinearity == Nonlinearity::kTanh ? Activation::kTanh : Activation::kReLU;
}
}  // namespace detail

struct RNN::Workspace {
  detail::ParamLayout layout;
  // Forward.
  Tensor x_time_major;  // [T, B, I]: the input, transposed when batch_first
  Tensor proj[2];       // per direction [T, B, H]: W_ih x_t, then + W_hh h_{t-1}
  Tensor ping[2];       // inference: [T, B, D*H] layer outputs, alternating by layer
  // Backward.
  Tensor dy_top;      // [T, B, D*H]: grad_output, time-major
  Tensor dy[2];       // [T, B, D*H]: gradient w.r.t. a layer's output, alternating
  Tensor dx_input;    // [T, B, I]: gradient w.r.t. the input, time-major (batch_first)
  Tensor delta;       // [T, B, D*H]: dL/da for both directions of the current layer
  Tensor g_carry[2];  // per direction [B, H]: the gradient flowing back through time
  Tensor ones;        // [>= T*B] of 1.0: bias gradients as a GEMV over all steps
};

struct RNNCache::State {
  const RNN* owner = nullptr;  // the model whose forward_train filled this cache
  bool valid = false;
  int64_t seq_len = 0, batch = 0;
  Tensor input;                       // the user's input (shared, not copied)
  Tensor x_time_major;                // [T, B, I]: the input itself, or its transposed copy
  Tensor x_buffer;                    // storage for the transposed copy
  Tensor h0;                          // [L*D, B, H], or undefined for zeros
  std::vector<Tensor> layer_buffers;  // storage for layer_out
  std::vector<Tensor> layer_out;      // per layer [T, B, D*H]: every h_t, both directions
};

}  // namespace elman
