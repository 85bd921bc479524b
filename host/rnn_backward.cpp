// BPTT (DESIGN.md §1-2), per layer from the top and per direction: the upstream gradients in
// internal order, the recurrence (host/recurrence.h: delta_t and dL/dh0, with the model's
// algorithm), then over all steps at once the weight gradients and the input gradient (delta is
// zero at padded steps, so they add nothing).
#include <utility>

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/products.h"
#include "host/recurrence.h"
#include "host/rnn_state.h"
#include "host/shape_checks.h"
#include "host/unbatched.h"

namespace elman {
namespace {

using detail::Backend;

// The gradients arriving from above, in internal order.
struct Upstream {
  const float* dy;  // [T, B, D*H]: dL/dy of the top layer (padded steps are never read)
  const float* gh;  // [L*D, B, H]: dL/dh_n, or nullptr for zeros
};

// g_t's outside sources (DESIGN.md §1): grad_output as dL/dy of the top layer and grad_h_n as the
// gradient entering each direction's last step, rearranged into internal order where needed.
Upstream upstream_gradients(Backend& be, const RNNOptions& o, const detail::DeviceBatch& batch,
                            const Tensor& grad_output, const Tensor& grad_h_n, Tensor& dy_buffer,
                            Tensor& gh_buffer) {
  const int64_t T = batch.plan.seq_len, B = batch.plan.batch;
  const int64_t DH = o.num_directions() * o.hidden_size;
  Upstream u{grad_output.defined() ? grad_output.data() : nullptr,
             grad_h_n.defined() ? grad_h_n.data() : nullptr};
  if (!grad_output.defined()) {
    Tensor z = detail::ensure_buffer(dy_buffer, {T, B, DH}, be);
    detail::run(be, detail::Fill{z.data(), z.numel(), 0.0f});
    u.dy = z.data();
  } else if (batch.needs_gather(o.batch_first)) {
    Tensor z = detail::ensure_buffer(dy_buffer, {T, B, DH}, be);
    detail::run(be, detail::ReorderSequences{grad_output.data(), z.data(), T, B, DH, batch.perm,
                                             batch.lengths, o.batch_first, true});
    u.dy = z.data();
  }
  if (u.gh && batch.perm) {
    Tensor z = detail::ensure_buffer(gh_buffer, grad_h_n.shape(), be);
    detail::run(be, detail::PermuteRows{u.gh, z.data(), grad_h_n.size(0), B, o.hidden_size,
                                        batch.perm, true});
    u.gh = z.data();
  }
  return u;
}

// One (layer, direction)'s weight gradients over all steps (accumulated, +=):
//   dW_ih += sum_t delta_t x_t^T,  dW_hh += sum_t delta_t h_{t-1}^T,  db_ih = db_hh += sum_t
//   delta_t.
// x: [T, B, I] the layer's input; out: [T, B, D*H] the layer's output (h_t of both directions);
// delta: [T, B, D*H] with this direction's columns at d * H; h0: [B, H] or nullptr (zeros);
// delta_first: [B, H] scratch.
void weight_gradients(Backend& be, const RNNOptions& o, const detail::DeviceBatch& batch,
                      const detail::CellOffsets& cell, int64_t d, int64_t I, const float* x,
                      const float* out, const float* delta, const float* h0, float* grads,
                      const float* ones, float* delta_first) {
  const int64_t T = batch.plan.seq_len, B = batch.plan.batch, H = o.hidden_size;
  const int64_t DH = o.num_directions() * H;
  const float* delta_d = delta + d * H;
  detail::weight_gradient(be, grads + cell.w_ih, delta_d, DH, x, I, T * B, H, I);
  // dW_hh: first the steps whose predecessor is inside the sequence (h at padded steps is 0, so
  // a reverse-direction start adds nothing here)...
  const float* h_prev_rows = out + (d == 0 ? 0 : B * DH) + d * H;
  const float* delta_rows = delta_d + (d == 0 ? B * DH : 0);
  detail::weight_gradient(be, grads + cell.w_hh, delta_rows, DH, h_prev_rows, DH, (T - 1) * B, H,
                          H);
  // ... then each sequence's first step against h0 (nothing when h0 was omitted: zeros).
  if (h0) {
    const float* delta_at_h0 = delta_d;  // forward: step 0 for every sequence
    int64_t ld_delta_at_h0 = DH;
    if (d == 1 && batch.lengths) {  // reverse, variable lengths: step lengths[b] - 1
      detail::run(be, detail::GatherFinalStep{delta_d, delta_first, T, B, H, DH, nullptr,
                                              batch.lengths, false});
      delta_at_h0 = delta_first;
      ld_delta_at_h0 = H;
    } else if (d == 1) {
      delta_at_h0 = delta_d + (T - 1) * B * DH;
    }
    detail::weight_gradient(be, grads + cell.w_hh, delta_at_h0, ld_delta_at_h0, h0, H, B, H, H);
  }
  if (o.bias) {
    detail::bias_gradient(be, grads + cell.b_ih, delta_d, DH, ones, T * B, H);
    detail::bias_gradient(be, grads + cell.b_hh, delta_d, DH, ones, T * B, H);
  }
}

// What backward reads by reference (the input, the weights) must be what forward_train saw.
void check_unchanged_since_forward(const detail::CacheState& st, const Tensor& params) {
  if (st.input.version() != st.input_version)
    throw Error("RNN::backward: input was written after forward_train (its version is " +
                std::to_string(st.input.version()) + ", forward_train saw " +
                std::to_string(st.input_version) +
                "), so these would not be the gradients of that forward: run forward_train again, "
                "or write the next input into another tensor");
  if (params.version() != st.params_version)
    throw Error(
        "RNN::backward: the model's parameters were written after forward_train (an "
        "optimizer step, set_parameter or a checkpoint load in between?), so these would "
        "not be the gradients of that forward: run forward_train again");
}

// The aliasing rule (include/elman/rnn.h) for backward's results.
void check_backward_results(const detail::CacheState& st, const Tensor& grad_output,
                            const Tensor& grad_h_n, const RNNInputGrads& result,
                            const Shape& state_shape, Device device, const Tensor& params,
                            const Tensor& grads) {
  constexpr const char* kCall = "RNN::backward";
  const Tensor none;
  const bool gh0_kept = detail::written_in_place(result.grad_h0, state_shape, device);
  detail::check_no_overlap(kCall, {"grad_input", result.grad_input}, st.input.shape(), device,
                           {{"grad_output", grad_output},
                            {"grad_h_n", grad_h_n},
                            {"the forward's input", st.input},
                            {"grad_h0", gh0_kept ? result.grad_h0 : none},
                            {"the model's parameters", params},
                            {"the model's gradients", grads}});
  detail::check_no_overlap(kCall, {"grad_h0", result.grad_h0}, state_shape, device,
                           {{"grad_output", grad_output},
                            {"grad_h_n", grad_h_n},
                            {"the forward's input", st.input},
                            {"the model's parameters", params},
                            {"the model's gradients", grads}});
}

// What every (layer, direction) of one backward call reads and writes.
struct BackwardPass {
  Backend& be;
  const RNNOptions& o;
  Algorithm algorithm;
  const detail::CacheState& st;  // what forward_train saved
  const detail::ParamLayout& layout;
  const float* params;
  float* grads;           // the model's gradients, accumulated into
  const float* grad_h_n;  // [L*D, B, H] in internal order, or nullptr for zeros
  float* grad_h0;         // [L*D, B, H]: the result, in the user's order
  float* delta;           // [T, B, D*H]: both directions of the current layer
  float* g_carry[2];      // per direction [B, H]: dL/dh0 as the recurrence leaves it
  float* delta_first[2];  // per direction [B, H]: scratch for weight_gradients
  const float* ones;      // [>= T*B] of 1.0
};

// One (layer, direction): the recurrence (delta_t and dL/dh0), dL/dh0 stored in the user's
// order, then the weight gradients over all steps. dy: [T, B, D*H] the layer's output gradient;
// x: [T, B, I] its input; out: [T, B, D*H] its output.
void backward_direction(const BackwardPass& p, int64_t l, int64_t d, const float* dy,
                        const float* x, const float* out) {
  const detail::DeviceBatch& batch = p.st.batch;
  const int64_t T = batch.plan.seq_len, B = batch.plan.batch, H = p.o.hidden_size;
  const int64_t D = p.o.num_directions(), DH = D * H;
  const detail::CellOffsets& cell = p.layout.cells[static_cast<size_t>(l * D + d)];
  detail::BackwardRecurrence r;
  r.dy = dy + d * H;                                                     // [T, B, D*H]
  r.h = out + d * H;                                                     // [T, B, D*H]
  r.w_hh = p.params + cell.w_hh;                                         // [H, H]
  r.grad_h_n = p.grad_h_n ? p.grad_h_n + (l * D + d) * B * H : nullptr;  // [B, H]
  r.delta = p.delta + d * H;                                             // [T, B, D*H]
  r.grad_h0 = p.g_carry[d];                                              // [B, H]
  r.seq_len = T;
  r.batch = B;
  r.hidden = H;
  r.ld_dy = r.ld_h = r.ld_delta = DH;
  r.active = batch.plan.active.data();
  r.act = detail::activation_of(p.o);
  r.reverse = d == 1;
  detail::run_backward_recurrence(p.be, p.algorithm, r);
  // grad_h0[l*D + d] in the user's order.
  float* grad_h0_ld = p.grad_h0 + (l * D + d) * B * H;
  if (batch.perm)
    detail::run(p.be, detail::PermuteRows{r.grad_h0, grad_h0_ld, 1, B, H, batch.perm, false});
  else
    detail::run(p.be, detail::CopyRows{r.grad_h0, grad_h0_ld, B, H, H, H});
  const float* h0 = p.st.h0_internal.defined() ? p.st.h0_internal.data() : nullptr;
  weight_gradients(p.be, p.o, batch, cell, d, p.o.layer_input_size(l), x, out, p.delta,
                   h0 ? h0 + (l * D + d) * B * H : nullptr, p.grads, p.ones, p.delta_first[d]);
}

// One layer, both directions on two lanes, then its input gradient dx [T, B, I] (through the
// dropout below it, when the forward dropped).
void backward_layer(const BackwardPass& p, int64_t l, const float* dy, float* dx) {
  const detail::CacheState& st = p.st;
  const int64_t T = st.batch.plan.seq_len, B = st.batch.plan.batch, H = p.o.hidden_size;
  const int64_t D = p.o.num_directions(), DH = D * H, I = p.o.layer_input_size(l);
  const bool dropped = st.dropout.p > 0.0f;  // layer l > 0 read the dropped output below
  const float* x = l == 0    ? st.x_internal.data()
                   : dropped ? st.dropped[l - 1].data()
                             : st.layer_out[l - 1].data();  // [T, B, I]
  const float* out = st.layer_out[l].data();                // [T, B, D*H]
  detail::LaneScope lanes(p.be, static_cast<int>(D));
  for (int64_t d = 0; d < D; ++d) {
    p.be.set_lane(static_cast<int>(d));
    backward_direction(p, l, d, dy, x, out);
  }
  lanes.join();
  // dx_t = sum_d W_ih_d^T delta_t,d: after the join, since both directions add into dx.
  for (int64_t d = 0; d < D; ++d) {
    const detail::CellOffsets& cell = p.layout.cells[static_cast<size_t>(l * D + d)];
    detail::input_gradient(p.be, dx, p.delta + d * H, DH, p.params + cell.w_ih, T * B, H, I, d > 0);
  }
  if (l > 0 && dropped) {  // through the dropout below: the forward's mask and scale again
    detail::DropoutStream s = st.dropout;
    s.layer = static_cast<uint32_t>(l - 1);
    detail::run(p.be, detail::ApplyDropout{dx, dx, T * B * DH, s, 1.0f / (1.0f - s.p)});
  }
}

// backward's arguments: the input and weights unchanged since forward_train, the gradients'
// shapes, and the aliasing rule for its results.
void check_backward_arguments(const RNNOptions& o, const detail::CacheState& st,
                              const Tensor& grad_output, const Tensor& grad_h_n,
                              const RNNInputGrads& result, Device device, const Tensor& params,
                              const Tensor& grads) {
  constexpr const char* kCall = "RNN::backward";
  check_unchanged_since_forward(st, params);
  const detail::SequenceDims dims{st.batch.plan.seq_len, st.batch.plan.batch};
  detail::check_tensor(kCall, "grad_output", grad_output, detail::output_shape(o, dims), device,
                       true);
  detail::check_tensor(kCall, "grad_h_n", grad_h_n, detail::state_shape(o, dims), device, true);
  check_backward_results(st, grad_output, grad_h_n, result, detail::state_shape(o, dims), device,
                         params, grads);
}

}  // namespace

RNNInputGrads RNN::backward(const RNNCache& cache, const Tensor& grad_output,
                            const Tensor& grad_h_n) {
  RNNInputGrads result;
  backward_into(cache, grad_output, grad_h_n, result);
  return result;
}

void RNN::backward_into(const RNNCache& cache, const Tensor& grad_output, const Tensor& grad_h_n,
                        RNNInputGrads& result) {
  check_usable("RNN::backward");
  if (!cache.state().unbatched) return backward_batched(cache, grad_output, grad_h_n, result);
  detail::UnbatchedBackward u("RNN::backward", options_, context().device(),
                              cache.state().batch.plan.seq_len, grad_output, grad_h_n, result);
  backward_batched(cache, u.grad_output, u.grad_h_n, u.result);
  u.finish(result);
}

void RNN::backward_batched(const RNNCache& cache, const Tensor& grad_output, const Tensor& grad_h_n,
                           RNNInputGrads& result) {
  if (!cache.valid()) throw Error("RNN::backward: the cache holds no forward_train result");
  const detail::CacheState& st = cache.state();
  if (st.owner != id_)
    throw Error("RNN::backward: the cache was filled by another model's forward_train");
  check_backward_arguments(options_, st, grad_output, grad_h_n, result, context().device(),
                           flat_parameters(), flat_grads());
  const RNNOptions& o = options_;
  const detail::DeviceBatch& batch = st.batch;
  const int64_t T = batch.plan.seq_len, B = batch.plan.batch, H = o.hidden_size;
  const int64_t D = o.num_directions();
  detail::ensure_result(result.grad_input, st.input.shape(), context().device());
  detail::ensure_result(result.grad_h0, detail::state_shape(o, {T, B}), context().device());
  if (B == 0) return;

  Backend& be = detail::backend_of(context());
  Workspace& ws = *workspace_;
  ws.size_backward(be, T, B, H, D);
  const Upstream up =
      upstream_gradients(be, o, batch, grad_output, grad_h_n, ws.dy_top, ws.grad_h_n);
  // Layer 0's input gradient goes straight into the result unless it must be rearranged.
  const bool rearrange_dx = batch.needs_gather(o.batch_first);
  float* dx_layer0 = rearrange_dx
                         ? detail::ensure_buffer(ws.dx_input, {T, B, o.input_size}, be).data()
                         : result.grad_input.data();
  Tensor grads = flat_grads();  // accumulated into: a write (Tensor::version())
  grads.mark_modified();
  const BackwardPass pass{be,
                          o,
                          resolved_algorithm(),
                          st,
                          ws.layout,
                          flat_parameters().data(),
                          grads.data(),
                          up.gh,
                          result.grad_h0.data(),
                          ws.delta.data(),
                          {ws.g_carry[0].data(), D > 1 ? ws.g_carry[1].data() : nullptr},
                          {ws.delta_first[0].data(), D > 1 ? ws.delta_first[1].data() : nullptr},
                          ws.ones.data()};
  const float* dy = up.dy;
  for (int64_t l = o.num_layers - 1; l >= 0; --l) {
    float* dx = l == 0 ? dx_layer0 : ws.dy[l % 2].data();  // [T, B, I]: dL/dx of this layer
    backward_layer(pass, l, dy, dx);
    dy = dx;
  }
  if (rearrange_dx)
    detail::run(be,
                detail::ReorderSequences{dx_layer0, result.grad_input.data(), T, B, o.input_size,
                                         batch.perm, batch.lengths, o.batch_first, false});
}

void RNN::Workspace::size_backward(Backend& be, int64_t T, int64_t B, int64_t H, int64_t D) {
  detail::ensure_buffer(delta, {T, B, D * H}, be);
  for (Tensor& buffer : dy) detail::ensure_buffer(buffer, {T, B, D * H}, be);
  for (int64_t d = 0; d < D; ++d) {
    detail::ensure_buffer(g_carry[d], {B, H}, be);
    detail::ensure_buffer(delta_first[d], {B, H}, be);
  }
  if (!ones.defined() || ones.device() != be.device() || ones.numel() < T * B) {
    ones = Tensor::empty({T * B}, be.device());  // filled once per size, not per call
    detail::run(be, detail::Fill{ones.data(), T * B, 1.0f});
  }
}

}  // namespace elman
