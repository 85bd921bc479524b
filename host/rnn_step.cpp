// Streaming: RNN::step, one time step of every layer. Its own short path (no batch plan, no
// gathers): the shape checks, then the recurrence's step (host/recurrence.h) into a scratch
// state, then the new state and output copied into the caller's results (which may alias the
// old state). The same math as the full forward, checked step for step by the tests.
#include <utility>

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/recurrence.h"
#include "host/rnn_state.h"
#include "host/shape_checks.h"

namespace elman {

namespace {

// The aliasing rule (rnn.h) for step's results: result.h_n may be `state` itself, nothing else
// may overlap.
void check_step_results(const Tensor& x_t, const Tensor& state, const RNNOutput& result,
                        const Shape& out_shape, const Shape& state_shape, Device device,
                        const Tensor& params, const Tensor& grads) {
  const Tensor none;
  const bool hn_is_state = state.defined() && result.h_n.is_same(state) &&
                           detail::written_in_place(result.h_n, state_shape, device);
  const bool output_kept = detail::written_in_place(result.output, out_shape, device);
  detail::check_no_overlap("RNN::step", {"output", result.output}, out_shape, device,
                           {{"x_t", x_t},
                            {"state", state},
                            {"the model's parameters", params},
                            {"the model's gradients", grads}});
  detail::check_no_overlap(
      "RNN::step", {"h_n", result.h_n}, state_shape, device,
      {{"x_t", x_t},
       {"state (h_n may be the state itself, not a part of it)", hn_is_state ? none : state},
       {"output", output_kept ? result.output : none},
       {"the model's parameters", params},
       {"the model's gradients", grads}});
}

}  // namespace

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
  const Shape out_shape = batched ? Shape{B, H} : Shape{H};
  const Device device = context().device();
  detail::check_tensor("RNN::step", "x_t", x_t, x_t.shape(), device, false);
  detail::check_tensor("RNN::step", "state", state, state_shape, device, true);
  check_step_results(x_t, state, result, out_shape, state_shape, device, flat_parameters(),
                     flat_grads());
  detail::ensure_result(result.output, out_shape, device);
  detail::ensure_result(result.h_n, state_shape, device);
  if (B == 0) return;

  // The new state goes to scratch first: result.h_n may be the old state, which every layer's
  // recurrent product still reads.
  detail::Backend& be = detail::backend_of(context());
  Workspace& ws = *workspace_;
  detail::StepRecurrence r;
  r.params = flat_parameters().data();
  r.cells = ws.layout.cells.data();
  r.bias = o.bias;
  r.x = x_t.data();
  r.state = state.defined() ? state.data() : nullptr;
  r.next_state = detail::ensure_buffer(ws.step_state, {L, B, H}, be).data();
  r.pre = detail::ensure_buffer(ws.step_pre, {B, H}, be).data();
  r.layers = L;
  r.batch = B;
  r.input_size = o.input_size;
  r.hidden = H;
  r.act = detail::activation_of(o);
  detail::run_step_recurrence(be, resolved_algorithm(), r);
  detail::run(be, detail::CopyRows{r.next_state, result.h_n.data(), L * B, H, H, H});
  detail::run(be,
              detail::CopyRows{r.next_state + (L - 1) * B * H, result.output.data(), B, H, H, H});
  result.h_n.mark_modified();
  result.output.mark_modified();
}

}  // namespace elman
