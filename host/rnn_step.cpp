// Streaming: RNN::step, one time step of every layer, as a forward over a sequence of length 1
// (the same orchestration, so it equals the full forward by construction: a few launches per
// layer, nothing allocated once the caller reuses its results).
#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/buffers.h"
#include "host/rnn_state.h"
#include "host/shape_checks.h"

namespace elman {

RNNOutput RNN::step(const Tensor& x_t, const Tensor& state) {
  RNNOutput result;
  step_into(x_t, state, result);
  return result;
}

void RNN::step_into(const Tensor& x_t, const Tensor& state, RNNOutput& result) {
  check_usable("RNN::step");
  const RNNOptions& o = options_;
  if (o.bidirectional)
    throw Error(
        "RNN::step: the model is bidirectional; streaming needs a unidirectional model (the "
        "reverse direction reads the sequence from its end)");
  if (!x_t.defined()) throw Error("RNN::step: x_t is undefined");
  const bool batched = x_t.dim() == 2;
  if ((x_t.dim() != 1 && x_t.dim() != 2) || x_t.size(-1) != o.input_size)
    throw Error("RNN::step: x_t has shape " + shape_str(x_t.shape()) + ", expected [B, " +
                std::to_string(o.input_size) + "] or [" + std::to_string(o.input_size) +
                "] (input_size = " + std::to_string(o.input_size) + ")");
  const int64_t B = batched ? x_t.size(0) : 1, H = o.hidden_size, L = o.num_layers;
  const Shape state_shape = batched ? Shape{L, B, H} : Shape{L, H};
  if (state.defined() && state.shape() != state_shape)
    throw Error("RNN::step: state has shape " + shape_str(state.shape()) + ", expected " +
                shape_str(state_shape));
  // A length-1 sequence: [1, B, I] and [B, 1, I] are the same memory, whatever batch_first.
  const Shape x_seq = o.batch_first ? Shape{B, 1, o.input_size} : Shape{1, B, o.input_size};
  const Tensor h0 = state.defined() ? state.view({L, B, H}) : Tensor();
  const Shape out_shape = batched ? Shape{B, H} : Shape{H};
  const Device device = ctx_.device();
  detail::check_tensor("RNN::step", "x_t", x_t, x_t.shape(), device, false);
  detail::check_tensor("RNN::step", "state", state, state_shape, device, true);
  // The aliasing rule (rnn.h): result.h_n may be `state` itself, nothing else may overlap.
  const Tensor none;
  const bool hn_is_state = state.defined() && result.h_n.is_same(state) &&
                           detail::written_in_place(result.h_n, state_shape, device);
  const bool output_kept = detail::written_in_place(result.output, out_shape, device);
  detail::check_no_overlap("RNN::step", {"output", result.output}, out_shape, device,
                           {{"x_t", x_t},
                            {"state", state},
                            {"the model's parameters", flat_params_},
                            {"the model's gradients", flat_grads_}});
  detail::check_no_overlap("RNN::step", {"h_n", result.h_n}, state_shape, device,
                           {{"x_t", x_t},
                            {"state (h_n may be the state itself, not a part of it)",
                             hn_is_state ? none : state},
                            {"output", output_kept ? result.output : none},
                            {"the model's parameters", flat_params_},
                            {"the model's gradients", flat_grads_}});
  detail::ensure_result(result.output, out_shape, device);
  detail::ensure_result(result.h_n, state_shape, device);
  // Views onto the caller's results: forward_into writes them in place.
  RNNOutput seq{result.output.view(o.batch_first ? Shape{B, 1, H} : Shape{1, B, H}),
                result.h_n.view({L, B, H})};
  forward_into(x_t.view(x_seq), h0, seq);
}

}  // namespace elman
