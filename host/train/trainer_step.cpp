// One training (or evaluation) batch, all queued on the device: gather the batch's inputs and
// targets from the uploaded data set, forward, head, fused loss, backward into every model's
// gradients, fault checks, the data-parallel exchange, clipping and the optimizer step.
#include <algorithm>
#include <limits>
#include <string>

#include "elman/error.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/param_layout.h"
#include "host/train/data_parallel.h"
#include "host/train/loss_access.h"
#include "host/train/trainer_state.h"
#include "kernels/copy_ops.h"

namespace elman::detail {

namespace {

// pick(model) for every model, in order (the embedding first, when there is one).
template <typename Pick>
std::vector<Tensor> each_model(const TrainerState& m, Pick pick) {
  std::vector<Tensor> all;
  if (m.embedding) all.push_back(pick(*m.embedding));
  all.push_back(pick(*m.rnn));
  all.push_back(pick(*m.head));
  return all;
}

}  // namespace

std::vector<Tensor> TrainerState::parameters() const {
  return each_model(*this, [](const auto& model) { return model.flat_parameters(); });
}

std::vector<Tensor> TrainerState::grads() const {
  return each_model(*this, [](const auto& model) { return model.flat_grads(); });
}

namespace {

// The model's input width: what one step of a data set must become.
int64_t model_vocabulary_or_features(const TrainerState& m) {
  return m.embedding ? m.embedding->num_embeddings() : m.rnn->options().input_size;
}

std::vector<int32_t> as_int32(const std::vector<int64_t>& ids) {
  return std::vector<int32_t>(ids.begin(), ids.end());  // ranges checked by check_data
}

}  // namespace

void check_data(const char* call, const Dataset& d, const TrainerState& m,
                const TrainerOptions& o) {
  d.validate(call);
  auto fail = [&](const std::string& what) { throw Error(std::string(call) + ": " + what); };
  if (m.embedding && !d.tokens)
    fail("the model starts with an embedding, the data set has feature inputs (tokens = false)");
  const int64_t width = model_vocabulary_or_features(m);
  if (d.input_size != width)
    fail("the data set has " + std::to_string(d.input_size) +
         (d.tokens ? " token classes, " : " input features, ") +
         (m.embedding ? "the embedding's num_embeddings is " : "the RNN's input_size is ") +
         std::to_string(width));
  if (d.size() > std::numeric_limits<int32_t>::max())
    fail("the data set has " + std::to_string(d.size()) +
         " examples; at most 2^31 - 1 (int32 "
         "indices on the device)");
  const int64_t K = m.head->out_features(), T = d.seq_len;
  const bool classes = o.loss == LossType::kCrossEntropy;
  const int64_t want = o.head == HeadMode::kLastStep ? (classes ? 1 : K) : (classes ? T : T * K);
  if (d.target_size != want)
    fail("the data set has " + std::to_string(d.target_size) + " targets per example, expected " +
         std::to_string(want) + " for this head and loss");
  if (d.size() > 0 && classes != !d.target_ids.empty())
    fail(classes ? "cross-entropy needs class ids (target_ids), the data set has values (targets)"
                 : "MSE needs values (targets), the data set has class ids (target_ids)");
  for (size_t i = 0; i < d.target_ids.size(); ++i)  // a bad id would only show as a NaN loss
    if (d.target_ids[i] >= K)
      fail("example " + std::to_string(i / static_cast<size_t>(d.target_size)) + ", step " +
           std::to_string(i % static_cast<size_t>(d.target_size)) + ": target class " +
           std::to_string(d.target_ids[i]) + " is not a class id 0.." + std::to_string(K - 1) +
           " (the head has " + std::to_string(K) + " outputs)");
}

DeviceData upload(const Dataset& d, TrainerState& m) {
  const Device device = m.ctx->device();
  Backend& be = backend_of(*m.ctx);
  DeviceData dd;
  dd.n = d.size();
  dd.seq_len = d.seq_len;
  dd.target_size = d.target_size;
  dd.tokens = d.tokens;
  dd.class_targets = !d.target_ids.empty();
  if (d.tokens)
    dd.input_ids.upload(be, as_int32(d.input_ids));
  else
    dd.inputs = Tensor::from_vector({dd.n, d.seq_len * d.input_size}, d.inputs, device);
  if (dd.class_targets)
    dd.target_ids.upload(be, as_int32(d.target_ids));
  else
    dd.targets = Tensor::from_vector({dd.n, d.target_size}, d.targets, device);
  return dd;
}

void size_buffers(TrainerState& m, const TrainerOptions& o, const Dataset& d, int64_t B) {
  const Device dev = m.ctx->device();
  const RNNOptions& ro = m.rnn->options();
  m.T = d.seq_len;
  m.I = ro.input_size;
  m.DH = ro.num_directions() * ro.hidden_size;
  m.K = m.head->out_features();
  m.B = B;
  const int64_t rows = o.head == HeadMode::kLastStep ? B : B * m.T;
  const int64_t LD = ro.num_layers * ro.num_directions();
  ensure_buffer(m.x, {B, m.T, m.I}, dev);
  ensure_buffer(m.y, {B, d.target_size}, dev);
  m.y_ids.reserve(backend_of(*m.ctx), static_cast<size_t>(B * d.target_size));
  ensure_buffer(m.last, {B, m.DH}, dev);
  ensure_buffer(m.grad_last, {B, m.DH}, dev);
  ensure_buffer(m.pred, {rows, m.K}, dev);
  ensure_buffer(m.grad_pred, {rows, m.K}, dev);
  ensure_buffer(m.grad_output, {B, m.T, m.DH}, dev);
  ensure_buffer(m.out_buf, {B, m.T, m.DH}, dev);
  ensure_buffer(m.hn_buf, {LD, B, ro.hidden_size}, dev);
  ensure_buffer(m.gin_buf, {B, m.T, m.I}, dev);
  ensure_buffer(m.gh0_buf, {LD, B, ro.hidden_size}, dev);
  if (o.bptt > 0 && o.bptt < m.T) ensure_buffer(m.h0c, {LD, B, ro.hidden_size}, dev);
}

namespace {

// [b, n, width] in the batch's layout (time-major: [n, b, width]).
Shape batch_shape(const TrainerState& m, int64_t b, int64_t n, int64_t width) {
  return m.time_major() ? Shape{n, b, width} : Shape{b, n, width};
}

// The RNN's input for the positions of `w`: features, embedding rows or one-hot rows.
void gather_inputs(TrainerState& m, const DeviceData& dd, const BatchWindow& w, Tensor& x) {
  Backend& be = backend_of(*m.ctx);
  if (!dd.tokens) {
    run(be, GatherValues{dd.inputs.data(), x.data(), w, m.I});
    return;
  }
  const float* weight = m.embedding ? m.embedding->weight().data() : nullptr;  // null: one-hot
  run(be, GatherTokenRows{weight, dd.input_ids.data(), x.data(), w, m.I});
}

// The targets of the batch's loss rows: one per example (last step: `w` narrowed to the one
// target row of each example) or one per position of `w` (every step).
void gather_targets(TrainerState& m, const TrainerOptions& o, const DeviceData& dd, BatchWindow w) {
  Backend& be = backend_of(*m.ctx);
  const int64_t per_step = dd.class_targets ? 1 : m.K;
  if (o.head == HeadMode::kLastStep) {
    w.t0 = 0;
    w.steps = 1;
    w.stride = 1;
    w.time_major = false;
  }
  if (dd.class_targets)
    run(be, GatherIds{dd.target_ids.data(), m.y_ids.data(), w, per_step});
  else
    run(be, GatherValues{dd.targets.data(), m.y.data(), w, per_step});
}

// The head and the loss over the RNN's output `out` ([b, n, D*H] in the batch's layout),
// the mean times `weight` added to loss_sum; with `train`, the head's backward and the gradient
// of the RNN's output written to m.grad_output. Returns that gradient.
Tensor head_and_loss(TrainerState& m, const TrainerOptions& o, const Tensor& out, int64_t b,
                     int64_t n, bool train, float weight, Tensor& loss_sum) {
  Backend& be = backend_of(*m.ctx);
  const int64_t DH = m.DH, K = m.K;
  const bool last_step = o.head == HeadMode::kLastStep, tm = m.time_major();
  const int64_t rows = last_step ? b : b * n;
  Tensor features;  // [rows, D*H]: what the head sees
  if (!last_step)
    features = out.view({rows, DH});
  else if (tm)  // the last step's rows are one block
    features = out.view({b, DH}, (n - 1) * b * DH);
  else {
    features = m.last.view({b, DH});
    run(be, CopyRows{out.data() + (n - 1) * DH, features.data(), b, DH, n * DH, DH});
  }
  Tensor pred = m.pred.view({rows, K});
  Tensor grad_pred = m.grad_pred.view({rows, K});
  m.head->forward_into(features, pred);
  if (o.loss == LossType::kMSE)
    m.mse.forward_backward(*m.ctx, pred, m.y.view({rows, K}), grad_pred, &loss_sum, weight);
  else
    LossAccess::cross_entropy(m.ce, *m.ctx, pred, m.y_ids.data(), grad_pred, &loss_sum, weight);
  if (!train) return Tensor();

  Tensor grad_output = m.grad_output.view(batch_shape(m, b, n, DH));
  if (!last_step) {
    Tensor grad_flat = grad_output.view({rows, DH});
    m.head->backward_into(features, grad_pred, &grad_flat);
    return grad_output;
  }
  run(be, Fill{grad_output.data(), grad_output.numel(), 0.0f});
  if (tm) {
    Tensor grad_last = grad_output.view({b, DH}, (n - 1) * b * DH);
    m.head->backward_into(features, grad_pred, &grad_last);
  } else {
    Tensor grad_last = m.grad_last.view({b, DH});
    m.head->backward_into(features, grad_pred, &grad_last);
    run(be, CopyRows{grad_last.data(), grad_output.data() + (n - 1) * DH, b, DH, DH, n * DH});
  }
  return grad_output;
}

// Forward of the positions of `w` from h0 (undefined: zeros); with `with_loss`, the head and
// the loss, the mean times `weight` added to loss_sum on the device; with `train` (implies
// with_loss), also every backward, the parameter gradients accumulated. No optimizer step here
// (finish_step).
void pass(TrainerState& m, const TrainerOptions& o, const DeviceData& dd, const BatchWindow& w,
          const Tensor& h0, bool with_loss, bool train, float weight, Tensor& loss_sum) {
  RNN& rnn = *m.rnn;
  const int64_t b = w.rows, n = w.steps;
  const RNNOptions& ro = rnn.options();
  const int64_t LD = ro.num_layers * ro.num_directions(), H = ro.hidden_size;
  Tensor x = m.x.view(batch_shape(m, b, n, m.I));
  gather_inputs(m, dd, w, x);
  if (with_loss) gather_targets(m, o, dd, w);
  // Views of the full-batch buffers for this pass's size (no allocation).
  RNNOutput out;
  out.output = m.out_buf.view(batch_shape(m, b, n, m.DH));
  out.h_n = m.hn_buf.view({LD, b, H});
  if (train)
    rnn.forward_train_into(x, h0, m.cache, out);
  else
    rnn.forward_into(x, h0, out);
  if (!with_loss) return;
  const Tensor grad_output = head_and_loss(m, o, out.output, b, n, train, weight, loss_sum);
  if (!train) return;
  RNNInputGrads in_grads;
  in_grads.grad_input = m.gin_buf.view(x.shape());
  in_grads.grad_h0 = m.gh0_buf.view({LD, b, H});
  // grad_h_n undefined: nothing flows back from a later chunk (the state is detached).
  rnn.backward_into(m.cache, grad_output, Tensor(), in_grads);
  if (m.embedding) {
    Tensor grads = m.embedding->flat_grads();  // accumulated into: a write
    grads.mark_modified();
    run(backend_of(*m.ctx),
        EmbeddingGradAccumulate{dd.input_ids.data(), in_grads.grad_input.data(), grads.data(), w,
                                m.I, m.embedding->padding_idx().value_or(-1)});
  }
}

// The test fault of TrainerOptions::inject_fault, when it is due on this rank.
void inject_fault(TrainerState& m, const TrainerOptions& o) {
  const int64_t global_step = m.opt->step_count() + 1;
  const TrainerOptions::InjectedFault& f = o.inject_fault;
  if (f.rank != m.comm->rank() || f.step != global_step) return;
  if (!f.non_finite)
    throw Error("injected test fault (TrainerOptions::inject_fault) at optimizer step " +
                std::to_string(global_step));
  Tensor g = m.rnn->flat_grads();
  run(backend_of(*m.ctx), Fill{g.data(), g.numel(), std::numeric_limits<float>::quiet_NaN()});
}

// Data parallel, before the exchange: this rank's mean gradient weighted by its share of the
// global batch, so that the sum over ranks is the global batch's mean gradient.
void weight_by_share(TrainerState& m) {
  if (m.grad_share == 1.0f) return;
  for (Tensor g : m.grads())
    run(backend_of(*m.ctx), ScaleInPlace{g.data(), g.numel(), m.grad_share});
}

// After a training pass: the fault checks of optimizer step `++step` (gradients and the loss
// sum, recorded on the device), data parallel the agreement and the gradient exchange,
// clipping, the optimizer step and zero_grad.
void finish_step(TrainerState& m, const TrainerOptions& o, int64_t& step) {
  Backend& be = backend_of(*m.ctx);
  const float s = static_cast<float>(++step);
  const bool parallel = m.comm->size() > 1;
  local_work(m, [&] {
    inject_fault(m, o);
    if (parallel) weight_by_share(m);
    for (FirstNonFinite check : m.grad_checks) {
      check.step = s;
      run(be, check);
    }
    FirstNonFinite loss_check = m.loss_check;
    loss_check.step = s;
    run(be, loss_check);
  });
  if (parallel) {
    agree_on_failure(
        *m.comm,
        "Trainer::fit (epoch " + std::to_string(m.epoch) + ", step " + std::to_string(step) + ")",
        m.local_failure);
    for (Tensor g : m.grads()) m.comm->allreduce_sum(g);
  }
  if (m.clipper) m.clipper->clip(m.grads());
  m.opt->step();
  m.opt->zero_grad();
}

}  // namespace

void run_batch(TrainerState& m, const TrainerOptions& o, const DeviceData& dd, const int32_t* order,
               int64_t first, int64_t b, bool train, float weight, Tensor& loss_sum,
               int64_t* step) {
  const int64_t T = m.T;
  // Data parallel, a rank may hold no example of a short batch (b == 0): it does no local work
  // but takes part in every step's exchange, with a zero gradient.
  const bool local = b > 0;
  const BatchWindow whole{order, first, b, 0, T, T, m.time_major()};
  const int64_t k = o.bptt;
  if (!train || k == 0 || k >= T) {  // whole sequences
    if (local)
      local_work(m, [&] { pass(m, o, dd, whole, Tensor(), true, train, weight, loss_sum); });
    if (train) finish_step(m, o, *step);
    return;
  }
  // Truncated BPTT: chunks [t0, t0 + kc), the state carried by a device-to-device copy.
  const RNNOptions& ro = m.rnn->options();
  const int64_t LD = ro.num_layers * ro.num_directions(), H = ro.hidden_size;
  const bool every_step = o.head == HeadMode::kEveryStep;
  for (int64_t t0 = 0; t0 < T; t0 += k) {
    const int64_t kc = std::min(k, T - t0);
    const bool with_loss = every_step || t0 + kc == T;  // else forward only, to carry the state
    BatchWindow w = whole;
    w.t0 = t0;
    w.steps = kc;
    if (local)
      local_work(m, [&] {
        Tensor h0;
        if (t0 > 0) {  // detached: a copy of the previous chunk's h_n, no gradient back through it
          h0 = m.h0c.view({LD, b, H});
          const int64_t n = LD * b * H;
          run(backend_of(*m.ctx), CopyRows{m.hn_buf.data(), h0.data(), 1, n, n, n});
        }
        // Every step: each chunk's loss is its mean, weighted by its share of the sequence.
        const float wc =
            every_step ? weight * static_cast<float>(kc) / static_cast<float>(T) : weight;
        pass(m, o, dd, w, h0, with_loss, with_loss, wc, loss_sum);
      });
    if (with_loss) finish_step(m, o, *step);
  }
}

}  // namespace elman::detail
