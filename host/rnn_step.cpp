// Streaming: RNN::step, one time step of every layer. Its own short path (no batch plan, no
// gathers): the shape checks, then the recurrence's step (host/recurrence.h) into a scratch
// state, then the new state and output copied into the caller's results (which may alias the
// old state). The same math as the full forward, checked step for step by the tests.
#include "elman/error.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/recurrence.h"
#include "host/rnn_state.h"
#include "host/shape_checks.h"

namespace elman {

RNNOutput RNN::step(const Tensor& x_t, const Tensor& state) {
  RNNOutput result;
  step_into(x_t, state, result);
  return result;
}

void RNN::step_into(const Tensor& x_t, const Tensor& state, RNNOutput& result) {
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
  const Device device = ctx_->device();
  detail::check_tensor("RNN::step", "x_t", x_t, x_t.shape(), device, false);
  const int64_t B = batched ? x_t.size(0) : 1, H = o.hidden_size, L = o.num_layers;
  const Shape state_shape = batched ? Shape{L, B, H} : Shape{L, H};
  detail::check_tensor("RNN::step", "state", state, state_shape, device, true);
  detail::ensure_result(result.output, batched ? Shape{B, H} : Shape{H}, device);
  detail::ensure_result(result.h_n, state_shape, device);
  if (B == 0) return;

  detail::Backend& be = ctx_->backend();
  Workspace& ws = *workspace_;
  detail::StepRecurrence r;
  r.params = flat_params_.data();
  r.cells = ws.layout.cells.data();
  r.bias = o.bias;
  r.x = x_t.data();
  r.state = state.defined() ? state.data() : nullptr;
  r.next_state = detail::ensure_buffer(ws.step_state, {L, B, H}, device).data();
  r.pre = detail::ensure_buffer(ws.step_pre, {B, H}, device).data();
  r.layers = L;
  r.batch = B;
  r.input_size = o.input_size;
  r.hidden = H;
  r.act = detail::activation_of(o);
  detail::run_step_recurrence(be, resolved_algorithm(), r);
  detail::run(be, detail::CopyRows{r.next_state, result.h_n.data(), L * B, H, H, H});
  detail::run(be,
              detail::CopyRows{r.next_state + (L - 1) * B * H, result.output.data(), B, H, H, H});
}

}  // namespace elman
