// The internal state behind elman::RNN: its scratch buffers and what a training forward saves
// (detail::CacheState, behind RNNCache). Shapes are stated once here; orchestration indexes them as
// stated. "Internal order": time-major, sequences sorted longest first (host/batch_plan.h).
#pragma once

#include <vector>

#include "elman/rnn.h"
#include "host/batch_plan.h"
#include "host/index_buffer.h"
#include "host/param_layout.h"
#include "kernels/dropout_ops.h"
#include "kernels/step_ops.h"

namespace elman {

namespace detail {
class Backend;

inline Activation activation_of(const RNNOptions& o) {
  return o.nonlinearity == Nonlinearity::kTanh ? Activation::kTanh : Activation::kReLU;
}

// A batch plan and its arrays on the device; the pointers are null where not needed
// (perm: identity order; lengths: every sequence runs all steps).
struct DeviceBatch {
  BatchPlan plan;
  IndexBuffer perm_buffer, lengths_buffer;
  const int32_t* perm = nullptr;
  const int32_t* lengths = nullptr;
  // Whether tensors in the user's layout must be rearranged into the internal one.
  bool needs_gather(bool batch_first) const { return batch_first || perm || lengths; }
};
}  // namespace detail

struct RNN::Workspace {
  detail::ParamLayout layout;
  detail::DeviceBatch batch;  // inference's batch (training keeps its own in the cache)
  // Forward.
  Tensor x_internal;   // [T, B, I]: the input in internal order (when it must be rearranged)
  Tensor h0_internal;  // [L*D, B, H]: h0 in internal order (when permuted)
  Tensor proj[2];      // per direction [T, B, H]: W_ih x_t, then + W_hh h_{t-1}
  Tensor ping[2];      // inference: [T, B, D*H] layer outputs, alternating by layer
  // Backward.
  Tensor dy_top;          // [T, B, D*H]: grad_output in internal order
  Tensor dy[2];           // [T, B, D*H]: gradient w.r.t. a layer's output, alternating
  Tensor dx_input;        // [T, B, I]: gradient w.r.t. the input, internal order
  Tensor grad_h_n;        // [L*D, B, H]: grad_h_n in internal order (when permuted)
  Tensor delta;           // [T, B, D*H]: dL/da for both directions of the current layer
  Tensor delta_first[2];  // per direction [B, H]: delta where the reverse direction read h0
  Tensor g_carry[2];      // per direction [B, H]: the gradient flowing back through time
  Tensor ones;            // [>= T*B] of 1.0: bias gradients as a GEMV over all steps
  // Sizes the backward scratch above for [T, B] before any loop (ones filled once per size).
  void size_backward(detail::Backend& be, int64_t T, int64_t B, int64_t H, int64_t D);
  // Streaming.
  Tensor step_state;  // [L, B, H]: the new state, before it is copied to the caller's
  Tensor step_pre;    // [B, H]: one layer's pre-activation
};

namespace detail {
// What a training forward saves for backward (the state behind an RNNCache).
struct CacheState {
  uint64_t owner = 0;  // RNN::id_ of the model whose forward_train filled this cache (0: none)
  bool valid = false;
  bool unbatched = false;  // filled from [T, I] input: backward takes and returns unbatched
  detail::DeviceBatch batch;
  Tensor input;                       // the user's input (shared, not copied)
  uint64_t input_version = 0;         // input.version() when forward_train finished
  uint64_t params_version = 0;        // the model's flat_parameters().version() then
  Tensor x_internal;                  // [T, B, I]: the input itself, or its rearranged copy
  Tensor x_buffer;                    // storage for the rearranged copy
  Tensor h0_internal;                 // [L*D, B, H]: a copy of h0 (permuted), or undefined: 0
  Tensor h0_buffer;                   // storage for the permuted copy
  std::vector<Tensor> layer_buffers;  // storage for layer_out
  std::vector<Tensor> layer_out;      // per layer [T, B, D*H]: every h_t, both directions
  // Dropout (when dropout.p > 0): the mask's stream, and per layer but the last its output as
  // the next layer read it (dropped and scaled), [T, B, D*H].
  detail::DropoutStream dropout;
  std::vector<Tensor> dropped;
};
}  // namespace detail

}  // namespace elman
