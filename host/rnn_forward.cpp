// The forward pass (DESIGN.md §2): per layer and direction, one input-projection GEMM over all
// steps, then the recurrence (host/recurrence.h) with the model's algorithm; the two directions
// on two lanes.
#include <functional>
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

// Sets up `batch` for `plan` and uploads the arrays the functors need.
void prepare_batch(Backend& be, detail::DeviceBatch& batch, detail::BatchPlan plan) {
  batch.plan = std::move(plan);
  batch.perm = batch.lengths = nullptr;
  if (batch.plan.permuted) {
    batch.perm_buffer.upload(be, batch.plan.perm);
    batch.perm = batch.perm_buffer.data();
  }
  if (batch.plan.varying) {
    batch.lengths_buffer.upload(be, batch.plan.lengths);
    batch.lengths = batch.lengths_buffer.data();
  }
}

// The input in internal order: the user's tensor itself, or its rearranged copy in `buffer`.
Tensor internal_input(Backend& be, const RNNOptions& o, const Tensor& input,
                      const detail::DeviceBatch& batch, Tensor& buffer) {
  if (!batch.needs_gather(o.batch_first)) return input;
  const int64_t T = batch.plan.seq_len, B = batch.plan.batch;
  Tensor x = detail::ensure_buffer(buffer, {T, B, o.input_size}, be);
  detail::run(be, detail::ReorderSequences{input.data(), x.data(), T, B, o.input_size, batch.perm,
                                           batch.lengths, o.batch_first, true});
  return x;
}

// h0 in internal order: undefined (zeros), the user's h0, or a copy in `buffer` (permuted to
// the internal order when it differs; always a copy with `copy`, so that the result may
// overwrite h0 and a cache never depends on the caller's tensor).
Tensor internal_h0(Backend& be, const Tensor& h0, const detail::DeviceBatch& batch, Tensor& buffer,
                   bool copy) {
  if (!h0.defined() || (!batch.perm && !copy)) return h0;
  Tensor h = detail::ensure_buffer(buffer, h0.shape(), be);
  const int64_t S = h0.size(0), B = h0.size(1), H = h0.size(2);
  if (batch.perm)
    detail::run(be, detail::PermuteRows{h0.data(), h.data(), S, B, H, batch.perm, true});
  else
    detail::run(be, detail::CopyRows{h0.data(), h.data(), 1, S * B * H, S * B * H, S * B * H});
  return h;
}

// Dropout between layers (training only): where layer l's dropped output goes, and the mask.
struct LayerDropout {
  detail::DropoutStream stream;            // stream.layer is set per layer
  std::function<float*(int64_t)> dropped;  // [T, B, D*H] per layer but the last
};

// Runs every layer. x: [T, B, I] and h0: [L*D, B, H] (or nullptr: zeros) in internal order;
// layer_out(l): where layer l writes [T, B, D*H]; h_n: [L*D, B, H] in the user's order;
// dropout: nullptr, or what the next layer reads instead of layer_out(l).
void run_layers(Backend& be, const RNNOptions& o, Algorithm algorithm,
                const detail::ParamLayout& layout, const float* params, const float* x,
                const float* h0, const detail::DeviceBatch& batch,
                const std::function<float*(int64_t)>& layer_out, Tensor (&proj)[2], float* h_n,
                const LayerDropout* dropout = nullptr) {
  const detail::BatchPlan& plan = batch.plan;
  const int64_t T = plan.seq_len, B = plan.batch, H = o.hidden_size, D = o.num_directions();
  const int64_t DH = D * H;
  const float* in = x;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const int64_t I = o.layer_input_size(l);
    float* out = layer_out(l);  // [T, B, D*H]
    detail::LaneScope lanes(be, static_cast<int>(D));
    for (int64_t d = 0; d < D; ++d) {
      be.set_lane(static_cast<int>(d));
      const detail::CellOffsets& cell = layout.cells[static_cast<size_t>(l * D + d)];
      detail::ForwardRecurrence r;
      r.pre = proj[d].data();                          // [T, B, H]
      r.w_hh = params + cell.w_hh;                     // [H, H]
      r.b_ih = o.bias ? params + cell.b_ih : nullptr;  // [H]
      r.b_hh = o.bias ? params + cell.b_hh : nullptr;  // [H]
      r.h0 = h0 ? h0 + (l * D + d) * B * H : nullptr;  // [B, H]
      r.h = out + d * H;                               // [T, B, D*H]
      r.seq_len = T;
      r.batch = B;
      r.hidden = H;
      r.ld_h = DH;
      r.active = plan.active.data();
      r.act = detail::activation_of(o);
      r.reverse = d == 1;
      detail::input_projection(be, r.pre, in, I, params + cell.w_ih, T * B, I, H);
      detail::run_forward_recurrence(be, algorithm, r);
      // h_n[l*D + d] = each sequence's state after its direction's last step, in user order.
      detail::run(be, detail::GatherFinalStep{out + d * H, h_n + (l * D + d) * B * H, T, B, H, DH,
                                              batch.perm, batch.lengths, d == 1});
    }
    lanes.join();
    in = out;
    if (dropout && l + 1 < o.num_layers) {  // the next layer reads the dropped output
      detail::DropoutStream s = dropout->stream;
      s.layer = static_cast<uint32_t>(l);
      float* dropped = dropout->dropped(l);
      detail::run(be, detail::ApplyDropout{out, dropped, T * B * DH, s, 1.0f / (1.0f - s.p)});
      in = dropped;
    }
  }
}

// Writes the last layer's [T, B, D*H] into `output` in the user's order and layout, zero past
// each sequence's end.
void store_output(Backend& be, const RNNOptions& o, const float* last, Tensor& output,
                  const detail::DeviceBatch& batch) {
  const int64_t DH = o.num_directions() * o.hidden_size;
  detail::run(
      be, detail::ReorderSequences{last, output.data(), batch.plan.seq_len, batch.plan.batch, DH,
                                   batch.perm, batch.lengths, o.batch_first, false});
}

// The aliasing rule (include/elman/rnn.h) for a forward's results; returns whether h_n is h0
// itself (then h0 must be copied before it is overwritten).
bool check_forward_results(const char* call, const Tensor& input, const Tensor& h0,
                           const RNNOutput& result, const Shape& out_shape,
                           const Shape& state_shape, Device device, const Tensor& params,
                           const Tensor& grads) {
  const Tensor none;
  const bool output_kept = detail::written_in_place(result.output, out_shape, device);
  const bool hn_is_h0 = h0.defined() && result.h_n.is_same(h0) &&
                        detail::written_in_place(result.h_n, state_shape, device);
  detail::check_no_overlap(call, {"output", result.output}, out_shape, device,
                           {{"input", input},
                            {"h0", h0},
                            {"the model's parameters", params},
                            {"the model's gradients", grads}});
  detail::check_no_overlap(call, {"h_n", result.h_n}, state_shape, device,
                           {{"input", input},
                            {"h0 (h_n may be h0 itself, not a part of it)", hn_is_h0 ? none : h0},
                            {"output", output_kept ? result.output : none},
                            {"the model's parameters", params},
                            {"the model's gradients", grads}});
  return hn_is_h0;
}

// Where one forward keeps what it computes: the model's workspace (inference) or the cache
// (training, for backward to read afterwards).
struct ForwardPlace {
  detail::DeviceBatch* batch;
  Tensor* x_buffer;   // for the input in internal order, when it must be rearranged
  Tensor* h0_buffer;  // for h0 in internal order, when it must be copied
  bool copy_h0;       // always copy h0 (else only when permuted)
  std::function<float*(int64_t)> layer_out;  // per layer [T, B, D*H]
  const LayerDropout* dropout;               // nullptr: no dropout
};

// Inference keeps everything in the model's workspace, the layers' outputs alternating between
// two buffers; h0 is copied only when h_n overwrites it.
ForwardPlace inference_place(Backend& be, const RNNOptions& o, const detail::SequenceDims& dims,
                             bool hn_is_h0, detail::DeviceBatch& batch, Tensor& x_buffer,
                             Tensor& h0_buffer, Tensor (&ping)[2]) {
  ForwardPlace place{&batch, &x_buffer, &h0_buffer, hn_is_h0, {}, nullptr};
  if (dims.batch == 0) return place;
  const int64_t DH = o.num_directions() * o.hidden_size;
  for (Tensor& buffer : ping) detail::ensure_buffer(buffer, {dims.seq_len, dims.batch, DH}, be);
  place.layer_out = [&ping](int64_t l) { return ping[l % 2].data(); };
  return place;
}

// Training keeps what backward reads in the cache: every layer's output, the internal input
// and h0 (always a copy), and with dropout each dropped output and the mask's stream.
ForwardPlace training_place(const char* call, const RNNOptions& o, const detail::SequenceDims& dims,
                            Device device, detail::CacheState& st, uint64_t dropout_seed,
                            uint64_t& dropout_calls, LayerDropout& dropout) {
  const int64_t T = dims.seq_len, B = dims.batch, L = o.num_layers;
  const int64_t DH = o.num_directions() * o.hidden_size;
  st.layer_buffers.resize(static_cast<size_t>(L));
  st.layer_out.resize(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l)
    st.layer_out[l] = detail::ensure_buffer(st.layer_buffers[l], {T, B, DH}, device);
  ForwardPlace place{&st.batch,
                     &st.x_buffer,
                     &st.h0_buffer,
                     true,
                     [&st](int64_t l) { return st.layer_out[l].data(); },
                     nullptr};
  // Dropout draws a new mask per call (the counter advances even for an empty batch, so the
  // masks do not depend on which batches were empty).
  dropout.stream = detail::DropoutStream{dropout_seed, dropout_calls, 0, o.dropout};
  const bool drops = o.dropout > 0.0f && L > 1;
  st.dropout = drops ? dropout.stream : detail::DropoutStream{};
  if (!drops) return place;
  if (T * B * DH > detail::kMaxDropoutElements)
    throw Error(std::string(call) + ": dropout over " + std::to_string(T * B * DH) +
                " elements per layer; the mask indexes at most " +
                std::to_string(detail::kMaxDropoutElements));
  ++dropout_calls;
  st.dropped.resize(static_cast<size_t>(L - 1));
  dropout.dropped = [&st, T, B, DH, device](int64_t l) {
    return detail::ensure_buffer(st.dropped[static_cast<size_t>(l)], {T, B, DH}, device).data();
  };
  place.dropout = &dropout;
  return place;
}

}  // namespace

RNNOutput RNN::forward(const Tensor& input, const Tensor& h0, const std::vector<int64_t>& lengths) {
  RNNOutput result;
  forward_into(input, h0, result, lengths);
  return result;
}

RNNOutput RNN::forward_train(const Tensor& input, const Tensor& h0, RNNCache& cache,
                             const std::vector<int64_t>& lengths) {
  RNNOutput result;
  forward_train_into(input, h0, cache, result, lengths);
  return result;
}

void RNN::forward_into(const Tensor& input, const Tensor& h0, RNNOutput& result,
                       const std::vector<int64_t>& lengths) {
  forward_body("RNN::forward", input, h0, nullptr, result, lengths);
}

void RNN::forward_train_into(const Tensor& input, const Tensor& h0, RNNCache& cache,
                             RNNOutput& result, const std::vector<int64_t>& lengths) {
  forward_body("RNN::forward_train", input, h0, &cache, result, lengths);
}

void RNN::forward_body(const char* call, const Tensor& input, const Tensor& h0, RNNCache* cache,
                       RNNOutput& result, const std::vector<int64_t>& lengths) {
  check_usable(call);
  if (detail::is_unbatched(input)) {
    detail::UnbatchedForward u(call, options_, context().device(), input, h0, result);
    forward_body(call, u.input, u.h0, cache, u.result, lengths);
    u.finish(result);
    if (cache) cache->state().unbatched = true;  // backward takes and returns unbatched too
    return;
  }
  const Device device = context().device();
  const detail::SequenceDims dims = detail::check_input(call, options_, input, device);
  const Shape out_shape = detail::output_shape(options_, dims);
  const Shape state_shape = detail::state_shape(options_, dims);
  detail::check_tensor(call, "h0", h0, state_shape, device, true);
  const bool hn_is_h0 = check_forward_results(call, input, h0, result, out_shape, state_shape,
                                              device, flat_parameters(), flat_grads());
  detail::BatchPlan plan = detail::make_batch_plan(call, lengths, dims.seq_len, dims.batch);
  Backend& be = detail::backend_of(context());
  detail::CacheState* st = cache ? &cache->state() : nullptr;
  if (st) st->valid = st->unbatched = false;  // from here on the cache is rewritten
  prepare_batch(be, st ? st->batch : workspace_->batch, std::move(plan));
  detail::ensure_result(result.output, out_shape, device);
  detail::ensure_result(result.h_n, state_shape, device);
  if (st) {
    st->owner = id_;
    st->input = input;
  }
  LayerDropout dropout;
  Workspace& ws = *workspace_;
  const ForwardPlace place =
      st ? training_place(call, options_, dims, device, *st, dropout_seed_, dropout_calls_, dropout)
         : inference_place(be, options_, dims, hn_is_h0, ws.batch, ws.x_internal, ws.h0_internal,
                           ws.ping);
  if (dims.batch > 0) {
    for (int64_t d = 0; d < options_.num_directions(); ++d)
      detail::ensure_buffer(ws.proj[d], {dims.seq_len, dims.batch, options_.hidden_size}, be);
    const Tensor x = internal_input(be, options_, input, *place.batch, *place.x_buffer);
    const Tensor h = internal_h0(be, h0, *place.batch, *place.h0_buffer, place.copy_h0);
    if (st) {
      st->x_internal = x;
      st->h0_internal = h;
    }
    run_layers(be, options_, resolved_algorithm(), ws.layout, flat_parameters().data(), x.data(),
               h.defined() ? h.data() : nullptr, *place.batch, place.layer_out, ws.proj,
               result.h_n.data(), place.dropout);
    store_output(be, options_, place.layer_out(options_.num_layers - 1), result.output,
                 *place.batch);
  }
  if (!st) return;
  // After the results are written: a result sharing the input's storage does not count.
  st->input_version = input.version();
  st->params_version = flat_parameters().version();
  st->valid = true;
}

}  // namespace elman
