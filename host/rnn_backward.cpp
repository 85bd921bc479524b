// BPTT (DESIGN.md §1-2): per layer, top down, and direction: per step one fused BackwardStep
// (delta = g * f') and one GEMM over the running sequences (g <- W_hh^T delta); after the loop
// one GEMM each for dW_ih, dW_hh, the bias gradients and the layer's input gradient, over all
// steps at once (delta is zero at padded steps, so they add nothing).
#include <utility>

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/rnn_state.h"
#include "host/shape_checks.h"

namespace elman {

using detail::Trans;

namespace {

// What backward reads by reference (the input, the weights) must be what forward_train saw.
void check_unchanged_since_forward(const RNNCache::State& st, const Tensor& params) {
  if (st.input.version() != st.input_version)
    throw Error("RNN::backward: input was written after forward_train (its version is " +
                std::to_string(st.input.version()) + ", forward_train saw " +
                std::to_string(st.input_version) +
                "), so these would not be the gradients of that forward: run forward_train again, "
                "or write the next input into another tensor");
  if (params.version() != st.params_version)
    throw Error("RNN::backward: the model's parameters were written after forward_train (an "
                "optimizer step, set_parameter or a checkpoint load in between?), so these would "
                "not be the gradients of that forward: run forward_train again");
}

// The aliasing rule (include/elman/rnn.h) for backward's results.
void check_backward_results(const RNNCache::State& st, const Tensor& grad_output,
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

}  // namespace

RNNInputGrads RNN::backward(const RNNCache& cache, const Tensor& grad_output,
                            const Tensor& grad_h_n) {
  RNNInputGrads result;
  backward_into(cache, grad_output, grad_h_n, result);
  return result;
}

void RNN::backward_into(const RNNCache& cache, const Tensor& grad_output, const Tensor& grad_h_n,
                        RNNInputGrads& result) {
  constexpr const char* kCall = "RNN::backward";
  check_usable(kCall);
  if (!cache.valid()) throw Error("RNN::backward: the cache holds no forward_train result");
  const RNNCache::State& st = cache.state();
  if (st.owner != id_)
    throw Error("RNN::backward: the cache was filled by another model's forward_train");
  check_unchanged_since_forward(st, flat_params_);
  const Device device = ctx_.device();
  const detail::DeviceBatch& batch = st.batch;
  const detail::BatchPlan& plan = batch.plan;
  const detail::SequenceDims dims{plan.seq_len, plan.batch};
  detail::check_tensor(kCall, "grad_output", grad_output, detail::output_shape(options_, dims),
                       device, true);
  detail::check_tensor(kCall, "grad_h_n", grad_h_n, detail::state_shape(options_, dims), device,
                       true);
  check_backward_results(st, grad_output, grad_h_n, result,
                         detail::state_shape(options_, dims), device, flat_params_, flat_grads_);

  detail::Backend& be = ctx_.backend();
  Workspace& ws = *workspace_;
  const RNNOptions& o = options_;
  const int64_t T = dims.seq_len, B = dims.batch, H = o.hidden_size, D = o.num_directions();
  const int64_t DH = D * H, L = o.num_layers, TB = T * B;
  detail::ensure_result(result.grad_input, st.input.shape(), device);
  detail::ensure_result(result.grad_h0, detail::state_shape(o, dims), device);
  if (B == 0) return;

  // Scratch, sized before any loop.
  Tensor delta = detail::ensure_buffer(ws.delta, {T, B, DH}, device);
  Tensor dy_buf[2] = {detail::ensure_buffer(ws.dy[0], {T, B, DH}, device),
                      detail::ensure_buffer(ws.dy[1], {T, B, DH}, device)};
  Tensor g_carry[2], delta_first[2];
  for (int64_t d = 0; d < D; ++d) {
    g_carry[d] = detail::ensure_buffer(ws.g_carry[d], {B, H}, device);
    delta_first[d] = detail::ensure_buffer(ws.delta_first[d], {B, H}, device);
  }
  if (!ws.ones.defined() || ws.ones.device() != device || ws.ones.numel() < TB) {
    ws.ones = Tensor::empty({TB}, device);  // filled once per size, not per call
    detail::run(be, detail::Fill{ws.ones.data(), TB, 1.0f});
  }
  const float* ones = ws.ones.data();

  // dL/dy of the top layer in internal order [T, B, D*H]; padded steps are never read.
  const float* dy = nullptr;
  if (!grad_output.defined()) {
    Tensor z = detail::ensure_buffer(ws.dy_top, {T, B, DH}, device);
    detail::run(be, detail::Fill{z.data(), z.numel(), 0.0f});
    dy = z.data();
  } else if (batch.needs_gather(o.batch_first)) {
    Tensor z = detail::ensure_buffer(ws.dy_top, {T, B, DH}, device);
    detail::run(be, detail::GatherSequences{grad_output.data(), z.data(), T, B, DH, batch.perm,
                                            batch.lengths, o.batch_first});
    dy = z.data();
  } else {
    dy = grad_output.data();
  }
  // dL/dh_n in internal order [L*D, B, H], or nullptr for zeros.
  const float* gh = grad_h_n.defined() ? grad_h_n.data() : nullptr;
  if (gh && batch.perm) {
    Tensor z = detail::ensure_buffer(ws.grad_h_n, grad_h_n.shape(), device);
    detail::run(be, detail::PermuteRows{gh, z.data(), L * D, B, H, batch.perm, true});
    gh = z.data();
  }
  // Layer 0's input gradient goes straight into the result unless it must be rearranged.
  const bool rearrange_dx = batch.needs_gather(o.batch_first);
  float* dx_layer0 = rearrange_dx
                         ? detail::ensure_buffer(ws.dx_input, {T, B, o.input_size}, device).data()
                         : result.grad_input.data();
  const float* h0 = st.h0_internal.defined() ? st.h0_internal.data() : nullptr;

  const float* params = std::as_const(flat_params_).data();
  Tensor grads_tensor = flat_grads_;  // accumulated into: a write (Tensor::version())
  grads_tensor.mark_modified();
  float* grads = grads_tensor.data();
  for (int64_t l = L - 1; l >= 0; --l) {
    const int64_t I = o.layer_input_size(l);
    const float* x = l == 0 ? st.x_internal.data() : st.layer_out[l - 1].data();  // [T, B, I]
    const float* out = st.layer_out[l].data();                                    // [T, B, D*H]
    float* dx = l == 0 ? dx_layer0 : dy_buf[l % 2].data();  // [T, B, I]: dL/dx of this layer
    detail::LaneScope lanes(be, static_cast<int>(D));
    for (int64_t d = 0; d < D; ++d) {
      be.set_lane(static_cast<int>(d));
      const detail::CellOffsets& cell = ws.layout.cells[static_cast<size_t>(l * D + d)];
      const float* w_hh = params + cell.w_hh;
      float* g = g_carry[d].data();           // [B, H]
      float* delta_d = delta.data() + d * H;  // [T, B, H] with row stride D*H
      // The gradient entering each sequence's last step: dL/dh_n, or nothing. A row keeps it
      // until its sequence starts running (backward in time), since GEMMs below touch only
      // running rows.
      if (gh)
        detail::run(be, detail::CopyRows{gh + (l * D + d) * B * H, g, B, H, H, H});
      else
        detail::run(be, detail::Fill{g, B * H, 0.0f});
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? T - 1 - s : s;  // backward walks time against the direction
        const int64_t running = plan.active[t];
        float* delta_t = delta_d + t * B * DH;
        detail::run(
            be, detail::BackwardStep{dy + t * B * DH + d * H, g, out + t * B * DH + d * H, delta_t,
                                     B, H, DH, DH, DH, detail::activation_of(o), running});
        // g <- W_hh^T delta_t: dL/dh_{t-1} of the running rows; a row whose sequence has just
        // had its first step keeps dL/dh0.
        be.gemm(Trans::kN, Trans::kN, H, running, H, 1.0f, w_hh, H, delta_t, DH, 0.0f, g, H);
      }
      // grad_h0[l*D + d] in the user's order.
      float* grad_h0_ld = result.grad_h0.data() + (l * D + d) * B * H;
      if (batch.perm)
        detail::run(be, detail::PermuteRows{g, grad_h0_ld, 1, B, H, batch.perm, false});
      else
        detail::run(be, detail::CopyRows{g, grad_h0_ld, B, H, H, H});

      // Weight gradients over all steps at once (accumulated: beta = 1).
      float* dw_ih = grads + cell.w_ih;  // [H, I]
      float* dw_hh = grads + cell.w_hh;  // [H, H]
      be.gemm(Trans::kN, Trans::kT, I, H, TB, 1.0f, x, I, delta_d, DH, 1.0f, dw_ih, I);
      // dW_hh = sum_t delta_t h_{t-1}^T: first the steps whose predecessor is inside the
      // sequence (h at padded steps is 0, so a reverse-direction start adds nothing here)...
      const float* h_prev_rows = out + (d == 0 ? 0 : B * DH) + d * H;
      const float* delta_rows = delta_d + (d == 0 ? B * DH : 0);
      be.gemm(Trans::kN, Trans::kT, H, H, (T - 1) * B, 1.0f, h_prev_rows, DH, delta_rows, DH, 1.0f,
              dw_hh, H);
      // ... then each sequence's first step against h0 (nothing when h0 was omitted: zeros).
      if (h0) {
        const float* delta_at_h0 = delta_d;  // forward: step 0 for every sequence
        int64_t ld_delta_at_h0 = DH;
        if (d == 1 && batch.lengths) {  // reverse, variable lengths: step lengths[b] - 1
          detail::run(be, detail::GatherFinalStep{delta_d, delta_first[d].data(), T, B, H, DH,
                                                  nullptr, batch.lengths, false});
          delta_at_h0 = delta_first[d].data();
          ld_delta_at_h0 = H;
        } else if (d == 1) {
          delta_at_h0 = delta_d + (T - 1) * B * DH;
        }
        be.gemm(Trans::kN, Trans::kT, H, H, B, 1.0f, h0 + (l * D + d) * B * H, H, delta_at_h0,
                ld_delta_at_h0, 1.0f, dw_hh, H);
      }
      if (o.bias) {  // db_ih = db_hh = sum over steps and batch of delta
        be.gemm(Trans::kN, Trans::kN, H, 1, TB, 1.0f, delta_d, DH, ones, TB, 1.0f,
                grads + cell.b_ih, H);
        be.gemm(Trans::kN, Trans::kN, H, 1, TB, 1.0f, delta_d, DH, ones, TB, 1.0f,
                grads + cell.b_hh, H);
      }
    }
    lanes.join();
    // dx = sum_d delta_d W_ih_d: after the join, since both directions add into dx.
    for (int64_t d = 0; d < D; ++d) {
      const detail::CellOffsets& cell = ws.layout.cells[static_cast<size_t>(l * D + d)];
      be.gemm(Trans::kN, Trans::kN, I, TB, H, 1.0f, params + cell.w_ih, I, delta.data() + d * H, DH,
              d == 0 ? 0.0f : 1.0f, dx, I);
    }
    dy = dx;
  }
  if (rearrange_dx)
    detail::run(be,
                detail::ScatterSequences{dx_layer0, result.grad_input.data(), T, B, o.input_size,
                                         batch.perm, batch.lengths, o.batch_first});
}

}  // namespace elman
