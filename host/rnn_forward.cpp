// The forward pass (DESIGN.md §2): per layer and direction, one input-projection GEMM over all
// steps, then per step one recurrent GEMM and one fused ForwardStep; directions on two lanes.
#include <functional>

#include "elman/error.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/rnn_state.h"
#include "host/shape_checks.h"

namespace elman {
namespace {

using detail::Backend;
using detail::Trans;

// Runs every layer. x: [T, B, I] time-major input; h0: [L*D, B, H] or nullptr (zeros);
// layer_out(l): where layer l writes [T, B, D*H]; h_n: [L*D, B, H].
void run_layers(Backend& be, const RNNOptions& o, const detail::ParamLayout& layout,
                const float* params, const float* x, const float* h0, detail::SequenceDims dims,
                const std::function<float*(int64_t)>& layer_out, Tensor (&proj)[2], float* h_n) {
  const int64_t T = dims.seq_len, B = dims.batch, H = o.hidden_size, D = o.num_directions();
  const int64_t DH = D * H;
  const detail::Activation act = detail::activation_of(o);
  const float* in = x;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const int64_t I = o.layer_input_size(l);
    float* out = layer_out(l);  // [T, B, D*H]
    be.fork(static_cast<int>(D));
    for (int64_t d = 0; d < D; ++d) {
      be.set_lane(static_cast<int>(d));
      const detail::CellOffsets& cell = layout.cells[static_cast<size_t>(l * D + d)];
      const float* w_ih = params + cell.w_ih;  // [H, I]
      const float* w_hh = params + cell.w_hh;  // [H, H]
      const float* b_ih = o.bias ? params + cell.b_ih : nullptr;
      const float* b_hh = o.bias ? params + cell.b_hh : nullptr;
      float* pre = proj[d].data();  // [T, B, H]
      // pre[t, b, :] = W_ih x[t, b, :] for all steps at once.
      be.gemm(Trans::kT, Trans::kN, H, T * B, I, 1.0f, w_ih, I, in, I, 0.0f, pre, H);
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? s : T - 1 - s;  // the reverse direction walks back
        const int64_t t_prev = d == 0 ? t - 1 : t + 1;
        const float* h_prev = nullptr;
        int64_t ld_prev = DH;
        if (s > 0) {
          h_prev = out + t_prev * B * DH + d * H;
        } else if (h0) {
          h_prev = h0 + (l * D + d) * B * H;
          ld_prev = H;
        }
        float* pre_t = pre + t * B * H;  // [B, H]
        if (h_prev)                      // pre_t += W_hh h_{t-1}
          be.gemm(Trans::kT, Trans::kN, H, B, H, 1.0f, w_hh, H, h_prev, ld_prev, 1.0f, pre_t, H);
        detail::run(
            be, detail::ForwardStep{pre_t, b_ih, b_hh, out + t * B * DH + d * H, B, H, H, DH, act});
      }
      // h_n[l*D + d] = h at the direction's last step.
      const int64_t t_last = d == 0 ? T - 1 : 0;
      detail::run(be, detail::CopyRows{out + t_last * B * DH + d * H, h_n + (l * D + d) * B * H, B,
                                       H, DH, H});
    }
    be.join();
    in = out;
  }
}

// x in time-major order: the input itself, or its transpose written into `buffer`.
Tensor time_major_input(Backend& be, const RNNOptions& o, const Tensor& input,
                        detail::SequenceDims dims, Tensor& buffer) {
  if (!o.batch_first) return input;
  Tensor x = detail::ensure_buffer(buffer, {dims.seq_len, dims.batch, o.input_size}, be.device());
  detail::run(
      be, detail::SwapLeadingDims{input.data(), x.data(), dims.batch, dims.seq_len, o.input_size});
  return x;
}

// Writes the last layer's [T, B, D*H] into `output` in the user's layout.
void store_output(Backend& be, const RNNOptions& o, const float* last, Tensor& output,
                  detail::SequenceDims dims) {
  const int64_t DH = o.num_directions() * o.hidden_size;
  if (o.batch_first)
    detail::run(be, detail::SwapLeadingDims{last, output.data(), dims.seq_len, dims.batch, DH});
  else
    detail::run(be, detail::CopyRows{last, output.data(), dims.seq_len * dims.batch, DH, DH, DH});
}

}  // namespace

RNNOutput RNN::forward(const Tensor& input, const Tensor& h0) {
  RNNOutput result;
  forward_into(input, h0, result);
  return result;
}

RNNOutput RNN::forward_train(const Tensor& input, const Tensor& h0, RNNCache& cache) {
  RNNOutput result;
  forward_train_into(input, h0, cache, result);
  return result;
}

void RNN::forward_into(const Tensor& input, const Tensor& h0, RNNOutput& result) {
  const Device device = ctx_->device();
  const detail::SequenceDims dims = detail::check_input("RNN::forward", options_, input, device);
  detail::check_tensor("RNN::forward", "h0", h0, detail::state_shape(options_, dims), device, true);
  Backend& be = ctx_->backend();
  Workspace& ws = *workspace_;
  detail::ensure_result(result.output, detail::output_shape(options_, dims), device);
  detail::ensure_result(result.h_n, detail::state_shape(options_, dims), device);
  if (dims.batch == 0) return;

  const int64_t T = dims.seq_len, B = dims.batch, H = options_.hidden_size;
  const int64_t DH = options_.num_directions() * H;
  Tensor layer_out[2] = {detail::ensure_buffer(ws.ping[0], {T, B, DH}, device),
                         detail::ensure_buffer(ws.ping[1], {T, B, DH}, device)};
  for (int64_t d = 0; d < options_.num_directions(); ++d)
    detail::ensure_buffer(ws.proj[d], {T, B, H}, device);
  const Tensor x = time_major_input(be, options_, input, dims, ws.x_time_major);

  run_layers(
      be, options_, ws.layout, flat_params_.data(), x.data(), h0.defined() ? h0.data() : nullptr,
      dims, [&](int64_t l) { return layer_out[l % 2].data(); }, ws.proj, result.h_n.data());
  store_output(be, options_, layer_out[(options_.num_layers - 1) % 2].data(), result.output, dims);
}

void RNN::forward_train_into(const Tensor& input, const Tensor& h0, RNNCache& cache,
                             RNNOutput& result) {
  const Device device = ctx_->device();
  const detail::SequenceDims dims =
      detail::check_input("RNN::forward_train", options_, input, device);
  detail::check_tensor("RNN::forward_train", "h0", h0, detail::state_shape(options_, dims), device,
                       true);
  Backend& be = ctx_->backend();
  Workspace& ws = *workspace_;
  RNNCache::State& st = cache.state();
  st.valid = false;
  detail::ensure_result(result.output, detail::output_shape(options_, dims), device);
  detail::ensure_result(result.h_n, detail::state_shape(options_, dims), device);

  const int64_t T = dims.seq_len, B = dims.batch, H = options_.hidden_size;
  const int64_t DH = options_.num_directions() * H, L = options_.num_layers;
  st.owner = this;
  st.seq_len = T;
  st.batch = B;
  st.input = input;
  st.h0 = h0;
  st.layer_buffers.resize(static_cast<size_t>(L));
  st.layer_out.resize(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l)
    st.layer_out[l] = detail::ensure_buffer(st.layer_buffers[l], {T, B, DH}, device);
  if (B > 0) {
    for (int64_t d = 0; d < options_.num_directions(); ++d)
      detail::ensure_buffer(ws.proj[d], {T, B, H}, device);
    st.x_time_major = time_major_input(be, options_, input, dims, st.x_buffer);
    run_layers(
        be, options_, ws.layout, flat_params_.data(), st.x_time_major.data(),
        h0.defined() ? h0.data() : nullptr, dims, [&](int64_t l) { return st.layer_out[l].data(); },
        ws.proj, result.h_n.data());
    store_output(be, options_, st.layer_out[L - 1].data(), result.output, dims);
  } else {
    st.x_time_major = input;
  }
  st.valid = true;
}

}  // namespace elman
