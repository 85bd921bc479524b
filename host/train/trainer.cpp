// The trainer: data sets uploaded once, a mini-batch gathered on the device per step (or per
// truncated-BPTT chunk), the whole step queued without a read-back, the loss sums and fault flags
// read once per epoch (DESIGN.md §3), and training checkpoints for resuming.
#include "elman/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>

#include "elman/checkpoint.h"
#include "elman/error.h"
#include "elman/loss.h"
#include "elman/safetensors.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/param_layout.h"
#include "host/train/checkpoint_internal.h"
#include "host/train/data_parallel.h"
#include "kernels/layout_ops.h"
#include "kernels/train/train_ops.h"

namespace elman {

std::vector<int64_t> seeded_permutation(int64_t n, std::mt19937_64& gen) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(gen() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

namespace {

// A data set on the device: inputs and targets as uploaded, once.
struct DeviceData {
  Tensor inputs, targets;
  int64_t n = 0;
};

}  // namespace

struct Trainer::Impl {
  RNN* rnn;
  Linear* head;
  Optimizer* opt;
  double base_lr = 0.0;  // the schedule's starting rate (TrainerOptions::lr_schedule)
  Context* ctx;
  MSELoss mse;
  CrossEntropyLoss ce;
  std::unique_ptr<GradNormClipper> clipper;
  // Step buffers, sized for a full batch; a short last batch uses views of them.
  Tensor x, y;                               // [B, T, I], [B, target_size]
  Tensor last;                               // [B, D*H]: output[:, -1, :] (last-step head)
  Tensor pred, grad_pred;                    // [B, K] or [B*T, K]
  Tensor grad_last;                          // [B, D*H]
  Tensor grad_output;                        // [B, T, D*H]
  Tensor out_buf, hn_buf, gin_buf, gh0_buf;  // storage behind the RNN's results
  Tensor xc, yc, h0c;  // truncated BPTT: one chunk's inputs and targets, the carried state
  RNNCache cache;
  // On the device, read back together once per epoch: [0] the epoch's train loss, [1] the
  // validation loss, then the fault slots (see FirstNonFinite): one per gradient tensor, in
  // slot_names order, and one for the train loss.
  Tensor loss_sums;
  std::vector<std::string> slot_names;  // "grad of rnn.weight_ih_l0", ..., "loss"
  std::vector<detail::FirstNonFinite> grad_checks;
  detail::FirstNonFinite loss_check{};

  int64_t T = 0, B = 0, I = 0, DH = 0, K = 0;

  // Data parallel (see Trainer): the ranks; this rank's share of the current global batch (its
  // gradient's weight); what failed on this rank since the last agreement ("" when nothing).
  SingleProcess single;  // the communicator when the options name none
  Communicator* comm = &single;
  float grad_share = 1.0f;
  std::string local_failure;
  int64_t epoch = 0;  // the epoch fit() is in (for messages)

  // Carried from one fit() to the next, and saved in training checkpoints.
  std::mt19937_64 gen;
  int64_t epochs_done = 0;
  std::string last_checkpoint;  // the last good checkpoint written or loaded ("" if none)
  int64_t last_checkpoint_epoch = 0;
};

namespace {

constexpr int64_t kFirstSlot = 2;  // loss_sums[0..1] are the losses

// Fault checks over one flat gradient buffer whose tensors have the given sizes (in order),
// recording into slots [first_slot, first_slot + sizes.size()) of `slots`.
void add_grad_checks(std::vector<detail::FirstNonFinite>& checks, const Tensor& flat,
                     const std::vector<int64_t>& sizes, float* slots) {
  int64_t offset = 0;
  for (size_t s0 = 0; s0 < sizes.size(); s0 += detail::FirstNonFinite::kMaxSegments) {
    detail::FirstNonFinite f{};
    f.x = flat.data() + offset;
    f.slots = slots + s0;
    int64_t end = 0;
    for (size_t s = s0; s < sizes.size() && s < s0 + detail::FirstNonFinite::kMaxSegments; ++s) {
      end += sizes[s];
      f.ends[f.segments++] = end;
    }
    f.n = end;
    offset += end;
    if (f.n > 0) checks.push_back(f);
  }
}

}  // namespace

Trainer::Trainer(RNN& rnn, Linear& head, Optimizer& optimizer, const TrainerOptions& options)
    : impl_(std::make_unique<Impl>()), options_(options) {
  constexpr const char* kCall = "Trainer";
  if (rnn.context() != head.context())
    throw Error(std::string(kCall) + ": the RNN and the head belong to different contexts");
  if (optimizer.context() != rnn.context())
    throw Error(std::string(kCall) + ": the optimizer belongs to another context than the RNN");
  // An optimizer that does not hold both models' buffers would "train" with a constant loss.
  if (!optimizer.holds(rnn.flat_parameters()))
    throw Error(std::string(kCall) +
                ": the optimizer does not hold this RNN's parameters (call "
                "optimizer.add_parameters(rnn.flat_parameters(), rnn.flat_grads()))");
  if (!optimizer.holds(head.flat_parameters()))
    throw Error(std::string(kCall) +
                ": the optimizer does not hold this head's parameters (call "
                "optimizer.add_parameters(head.flat_parameters(), head.flat_grads()))");
  if (!(options.clip_norm >= 0.0f) || !std::isfinite(options.clip_norm))
    throw Error(std::string(kCall) + ": clip_norm must be 0 (off) or a finite value > 0, got " +
                std::to_string(options.clip_norm));
  if (!rnn.options().batch_first)
    throw Error(std::string(kCall) + ": the RNN must be batch_first (data sets are [N, T, I])");
  const int64_t DH = rnn.options().num_directions() * rnn.options().hidden_size;
  if (head.in_features() != DH)
    throw Error(std::string(kCall) + ": head.in_features is " + std::to_string(head.in_features()) +
                ", expected the RNN's output width " + std::to_string(DH));
  if (options.batch_size < 1)
    throw Error(std::string(kCall) + ": batch_size must be >= 1, got " +
                std::to_string(options.batch_size));
  if (options.epochs < 0)
    throw Error(std::string(kCall) + ": epochs must be >= 0, got " +
                std::to_string(options.epochs));
  impl_->rnn = &rnn;
  impl_->head = &head;
  impl_->opt = &optimizer;
  impl_->base_lr = optimizer.learning_rate();
  impl_->ctx = &rnn.context();
  options.lr_schedule.validate();
  if (options.bptt < 0)
    throw Error(std::string(kCall) + ": bptt must be >= 0 (0: full BPTT), got " +
                std::to_string(options.bptt));
  if (options.clip_norm > 0.0f)
    impl_->clipper = std::make_unique<GradNormClipper>(*impl_->ctx, options.clip_norm);
  impl_->gen.seed(options.seed);
  if (options.communicator) impl_->comm = options.communicator;

  // The fault slots: one per RNN parameter, one per head parameter, one for the loss.
  Impl& m = *impl_;
  std::vector<int64_t> rnn_sizes, head_sizes;
  for (const auto& e : detail::make_param_layout(rnn.options()).entries) {
    m.slot_names.push_back("grad of rnn." + e.name);
    rnn_sizes.push_back(shape_numel(e.shape));
  }
  for (const std::string& name : head.parameter_names()) {
    m.slot_names.push_back("grad of fc." + name);
    head_sizes.push_back(head.parameter(name).numel());
  }
  m.slot_names.push_back("loss");
  const int64_t slots = static_cast<int64_t>(m.slot_names.size());
  m.loss_sums = Tensor::zeros({kFirstSlot + slots}, m.ctx->device());
  float* slot0 = m.loss_sums.data() + kFirstSlot;
  add_grad_checks(m.grad_checks, rnn.flat_grads(), rnn_sizes, slot0);
  add_grad_checks(m.grad_checks, head.flat_grads(), head_sizes, slot0 + rnn_sizes.size());
  m.loss_check.x = m.loss_sums.data();  // the train loss sum
  m.loss_check.n = 1;
  m.loss_check.slots = slot0 + slots - 1;
  m.loss_check.ends[0] = 1;
  m.loss_check.segments = 1;
}

int64_t Trainer::epochs_done() const { return impl_->epochs_done; }

Trainer::~Trainer() = default;

namespace {

void check_data(const char* call, const Dataset& d, const RNN& rnn, const Linear& head,
                const TrainerOptions& o) {
  d.validate(call);
  auto fail = [&](const std::string& what) { throw Error(std::string(call) + ": " + what); };
  if (d.input_size != rnn.options().input_size)
    fail("the data set has " + std::to_string(d.input_size) + " input features, the RNN's " +
         "input_size is " + std::to_string(rnn.options().input_size));
  const int64_t K = head.out_features(), T = d.seq_len;
  int64_t want = 0;
  if (o.loss == LossType::kMSE)
    want = o.head == HeadMode::kLastStep ? K : T * K;
  else
    want = o.head == HeadMode::kLastStep ? 1 : T;
  if (d.target_size != want)
    fail("the data set has " + std::to_string(d.target_size) + " targets per example, expected " +
         std::to_string(want) + " for this head and loss");
  if (o.loss == LossType::kCrossEntropy)  // class ids: a bad one would only show as a NaN loss
    for (size_t i = 0; i < d.targets.size(); ++i) {
      const float v = d.targets[i];
      if (v < 0.0f || v >= static_cast<float>(K) || v != std::floor(v)) {
        std::ostringstream os;
        os << "example " << i / static_cast<size_t>(d.target_size) << ", step "
           << i % static_cast<size_t>(d.target_size) << ": target class " << v
           << " is not a class id 0.." << K - 1 << " (the head has " << K << " outputs)";
        fail(os.str());
      }
    }
}

DeviceData upload(const Dataset& d, Device device) {
  DeviceData dd;
  dd.n = d.size();
  const int64_t per = d.seq_len * (d.one_hot ? 1 : d.input_size);
  dd.inputs = Tensor::from_vector({dd.n, per}, d.inputs, device);
  dd.targets = Tensor::from_vector({dd.n, d.target_size}, d.targets, device);
  return dd;
}

}  // namespace

namespace {

// Forward of x ([b, n, I]) from h0 (undefined: zeros); with `with_loss`, the head and the loss
// against y (the targets of these n steps), the mean times `weight` added to loss_sum on the
// device; with `train` (implies with_loss), also the head's and the RNN's backward, the
// parameter gradients accumulated. No optimizer step here (finish_step).
void pass(Trainer::Impl& m, const TrainerOptions& o, const Tensor& x, const Tensor& h0,
          const Tensor& y, bool with_loss, bool train, float weight, Tensor& loss_sum,
          RNNOutput& out, RNNInputGrads& in_grads) {
  detail::Backend& be = m.ctx->backend();
  RNN& rnn = *m.rnn;
  Linear& head = *m.head;
  const int64_t b = x.shape()[0], n = x.shape()[1];
  const int64_t I = m.I, DH = m.DH, K = m.K;
  const int64_t LD = rnn.options().num_layers * rnn.options().num_directions();
  const int64_t H = rnn.options().hidden_size;
  // Views of the full-batch buffers for this pass's size (no allocation).
  out.output = m.out_buf.view({b, n, DH});
  out.h_n = m.hn_buf.view({LD, b, H});
  if (train)
    rnn.forward_train_into(x, h0, m.cache, out);
  else
    rnn.forward_into(x, h0, out);
  if (!with_loss) return;

  const bool last_step = o.head == HeadMode::kLastStep;
  const int64_t rows = last_step ? b : b * n;
  Tensor features;  // [rows, D*H]: what the head sees
  if (last_step) {
    features = m.last.view({b, DH});
    detail::run(
        be, detail::CopyRows{out.output.data() + (n - 1) * DH, features.data(), b, DH, n * DH, DH});
  } else {
    features = out.output.view({b * n, DH});
  }
  Tensor pred = m.pred.view({rows, K});
  Tensor grad_pred = m.grad_pred.view({rows, K});
  head.forward_into(features, pred);
  if (o.loss == LossType::kMSE)
    m.mse.forward_backward(*m.ctx, pred, y.view({rows, K}), grad_pred, &loss_sum, weight);
  else
    m.ce.forward_backward(*m.ctx, pred, y.view({rows}), grad_pred, &loss_sum, weight);
  if (!train) return;

  Tensor grad_output = m.grad_output.view({b, n, DH});
  if (last_step) {
    Tensor grad_last = m.grad_last.view({b, DH});
    head.backward_into(features, grad_pred, &grad_last);
    detail::run(be, detail::Fill{grad_output.data(), grad_output.numel(), 0.0f});
    detail::run(be, detail::CopyRows{grad_last.data(), grad_output.data() + (n - 1) * DH, b, DH, DH,
                                     n * DH});
  } else {
    Tensor grad_flat = grad_output.view({b * n, DH});
    head.backward_into(features, grad_pred, &grad_flat);
  }
  in_grads.grad_input = m.gin_buf.view({b, n, I});
  in_grads.grad_h0 = m.gh0_buf.view({LD, b, H});
  // grad_h_n undefined: nothing flows back from a later chunk (the state is detached).
  rnn.backward_into(m.cache, grad_output, Tensor(), in_grads);
}

// This rank's local work. Data parallel: an exception is kept for the next agreement (every
// rank must still reach it: a rank that left would leave the others waiting in a collective)
// and the rank's later local work is skipped. One process: just runs it.
template <typename Work>
void local_work(Trainer::Impl& m, Work&& work) {
  if (m.comm->size() == 1) {
    work();
    return;
  }
  if (!m.local_failure.empty()) return;
  try {
    work();
  } catch (const std::exception& e) {
    m.local_failure = *e.what() ? e.what() : "an exception without a message";
  }
}

// The test fault of TrainerOptions::inject_fault, when it is due on this rank.
void inject_fault(Trainer::Impl& m, const TrainerOptions& o) {
  const int64_t global_step = m.opt->step_count() + 1;
  const TrainerOptions::InjectedFault& f = o.inject_fault;
  if (f.rank != m.comm->rank() || f.step != global_step) return;
  if (!f.non_finite)
    throw Error("injected test fault (TrainerOptions::inject_fault) at optimizer step " +
                std::to_string(global_step));
  Tensor g = m.rnn->flat_grads();
  detail::run(m.ctx->backend(),
              detail::Fill{g.data(), g.numel(), std::numeric_limits<float>::quiet_NaN()});
}

// Data parallel, before the exchange: this rank's mean gradient weighted by its share of the
// global batch, so that the sum over ranks is the global batch's mean gradient.
void weight_by_share(Trainer::Impl& m) {
  if (m.grad_share == 1.0f) return;
  Tensor rnn_grads = m.rnn->flat_grads(), head_grads = m.head->flat_grads();
  for (Tensor* g : {&rnn_grads, &head_grads})
    detail::run(m.ctx->backend(), detail::ScaleInPlace{g->data(), g->numel(), m.grad_share});
}

// After a training pass: the fault checks of optimizer step `++step` (gradients and the loss
// sum, recorded on the device), data parallel the agreement and the gradient exchange,
// clipping, the optimizer step and zero_grad.
void finish_step(Trainer::Impl& m, const TrainerOptions& o, int64_t& step) {
  detail::Backend& be = m.ctx->backend();
  const float s = static_cast<float>(++step);
  const bool parallel = m.comm->size() > 1;
  local_work(m, [&] {
    inject_fault(m, o);
    if (parallel) weight_by_share(m);
    for (detail::FirstNonFinite check : m.grad_checks) {
      check.step = s;
      detail::run(be, check);
    }
    detail::FirstNonFinite loss_check = m.loss_check;
    loss_check.step = s;
    detail::run(be, loss_check);
  });
  if (parallel) {
    agree_on_failure(
        *m.comm,
        "Trainer::fit (epoch " + std::to_string(m.epoch) + ", step " + std::to_string(step) + ")",
        m.local_failure);
    Tensor rnn_grads = m.rnn->flat_grads(), head_grads = m.head->flat_grads();
    m.comm->allreduce_sum(rnn_grads);
    m.comm->allreduce_sum(head_grads);
  }
  if (m.clipper) m.clipper->clip({m.rnn->flat_grads(), m.head->flat_grads()});
  m.opt->step();
  m.opt->zero_grad();
}

// One batch of `b` examples (order[first, first + b)), gathered on the device. With `train`,
// the backward pass(es) and optimizer step(s) too, counted in `step`: one for the batch, or
// with truncated BPTT one per chunk (see TrainerOptions::bptt). The batch's mean loss, times
// `weight`, is added to loss_sum on the device.
void run_batch(Trainer::Impl& m, const TrainerOptions& o, const Dataset& d, const DeviceData& dd,
               const float* order, int64_t first, int64_t b, bool train, float weight,
               Tensor& loss_sum, RNNOutput& out, RNNInputGrads& in_grads, int64_t* step) {
  detail::Backend& be = m.ctx->backend();
  const int64_t T = m.T, I = m.I;
  // Data parallel, a rank may hold no example of a short batch (b == 0): it does no local work
  // but takes part in every step's exchange, with a zero gradient.
  const bool local = b > 0;
  Tensor x, y;
  if (local)
    local_work(m, [&] {
      x = m.x.view({b, T, I});
      y = m.y.view({b, d.target_size});
      if (d.one_hot)
        detail::run(be, detail::GatherOneHot{dd.inputs.data(), order, x.data(), first, b, T, I});
      else
        detail::run(be, detail::GatherRows{dd.inputs.data(), order, x.data(), first, b, T * I});
      detail::run(be,
                  detail::GatherRows{dd.targets.data(), order, y.data(), first, b, d.target_size});
    });

  const int64_t k = o.bptt;
  if (!train || k == 0 || k >= T) {  // whole sequences
    if (local)
      local_work(m,
                 [&] { pass(m, o, x, Tensor(), y, true, train, weight, loss_sum, out, in_grads); });
    if (train) finish_step(m, o, *step);
    return;
  }
  // Truncated BPTT: chunks [t0, t0 + kc), the state carried by a device-to-device copy.
  const RNNOptions& ro = m.rnn->options();
  const int64_t LD = ro.num_layers * ro.num_directions(), H = ro.hidden_size;
  const bool every_step = o.head == HeadMode::kEveryStep;
  const int64_t per_step = o.loss == LossType::kMSE ? m.K : 1;  // targets per step (every step)
  for (int64_t t0 = 0; t0 < T; t0 += k) {
    const int64_t kc = std::min(k, T - t0);
    const bool last_chunk = t0 + kc == T;
    const bool with_loss = every_step || last_chunk;  // else forward only, to carry the state
    if (local)
      local_work(m, [&] {
        Tensor xc = m.xc.view({b, kc, I});
        detail::run(be, detail::CopyRows{x.data() + t0 * I, xc.data(), b, kc * I, T * I, kc * I});
        Tensor h0;
        if (t0 > 0) {  // detached: a copy of the previous chunk's h_n, no gradient back through it
          h0 = m.h0c.view({LD, b, H});
          const int64_t n = LD * b * H;
          detail::run(be, detail::CopyRows{m.hn_buf.data(), h0.data(), 1, n, n, n});
        }
        if (!with_loss) {
          pass(m, o, xc, h0, y, false, false, 0.0f, loss_sum, out, in_grads);
          return;
        }
        Tensor yc = y;
        float w = weight;
        if (every_step) {
          yc = m.yc.view({b, kc * per_step});
          detail::run(be, detail::CopyRows{y.data() + t0 * per_step, yc.data(), b, kc * per_step,
                                           T * per_step, kc * per_step});
          w = weight * static_cast<float>(kc) / static_cast<float>(T);
        }
        pass(m, o, xc, h0, yc, true, true, w, loss_sum, out, in_grads);
      });
    if (with_loss) finish_step(m, o, *step);
  }
}

// The training checkpoint's tensors: the model under PyTorch's names, then the optimizer's
// state as "optimizer.<group>.<torch's state name>" (1-D, the flat buffer's layout).
TensorMap training_checkpoint_tensors(Trainer::Impl& m) {
  TensorMap map = checkpoint_tensors(*m.rnn, *m.head);
  const std::vector<const char*> names = m.opt->state_names();
  for (int64_t g = 0; g < m.opt->group_count(); ++g)
    for (int k = 0; k < static_cast<int>(names.size()); ++k) {
      const Tensor& t = m.opt->state(g, k);
      map["optimizer." + std::to_string(g) + "." + names[static_cast<size_t>(k)]] =
          NamedArray{{t.numel()}, t.to_vector()};
    }
  return map;
}

void save_training_checkpoint(Trainer::Impl& m, const TrainerOptions& o, const std::string& path,
                              const TensorMap& tensors,
                              const std::map<std::string, std::string>& extra) {
  detail::refuse_non_finite("Trainer::save_checkpoint", path, tensors);
  std::map<std::string, std::string> meta = o.checkpoint_metadata;
  for (const auto& [key, value] : extra) meta[key] = value;
  std::ostringstream rng, lr;
  rng << m.gen;
  lr.precision(9);
  lr << m.opt->learning_rate();
  meta["elman_training_checkpoint"] = "1";
  meta["epoch"] = std::to_string(m.epochs_done);
  meta["optimizer"] = m.opt->kind();
  meta["optimizer_steps"] = std::to_string(m.opt->step_count());
  meta["learning_rate"] = lr.str();
  std::ostringstream base_lr;
  base_lr.precision(17);
  base_lr << m.base_lr;
  meta["base_learning_rate"] = base_lr.str();
  meta["lr_schedule"] = o.lr_schedule.str();
  meta["dropout_seed"] = std::to_string(m.rnn->dropout_seed());
  meta["dropout_calls"] = std::to_string(m.rnn->dropout_calls());
  meta["shuffle_rng"] = rng.str();
  meta["seed"] = std::to_string(o.seed);
  meta["batch_size"] = std::to_string(o.batch_size);
  meta["bptt"] = std::to_string(o.bptt);
  meta["ranks"] = std::to_string(m.comm->size());
  save_safetensors(path, tensors, meta);
}

// Sizes every step buffer for batches of up to `B` examples of `d`'s shape.
void size_buffers(Trainer::Impl& m, const TrainerOptions& o, const Dataset& d, int64_t B) {
  const Device dev = m.ctx->device();
  const RNNOptions& ro = m.rnn->options();
  m.T = d.seq_len;
  m.I = d.input_size;
  m.DH = ro.num_directions() * ro.hidden_size;
  m.K = m.head->out_features();
  m.B = B;
  const int64_t rows = o.head == HeadMode::kLastStep ? B : B * m.T;
  const int64_t LD = ro.num_layers * ro.num_directions();
  detail::ensure_buffer(m.x, {B, m.T, m.I}, dev);
  detail::ensure_buffer(m.y, {B, d.target_size}, dev);
  detail::ensure_buffer(m.last, {B, m.DH}, dev);
  detail::ensure_buffer(m.grad_last, {B, m.DH}, dev);
  detail::ensure_buffer(m.pred, {rows, m.K}, dev);
  detail::ensure_buffer(m.grad_pred, {rows, m.K}, dev);
  detail::ensure_buffer(m.grad_output, {B, m.T, m.DH}, dev);
  detail::ensure_buffer(m.out_buf, {B, m.T, m.DH}, dev);
  detail::ensure_buffer(m.hn_buf, {LD, B, ro.hidden_size}, dev);
  detail::ensure_buffer(m.gin_buf, {B, m.T, m.I}, dev);
  detail::ensure_buffer(m.gh0_buf, {LD, B, ro.hidden_size}, dev);
  if (o.bptt > 0 && o.bptt < m.T) {
    const int64_t per_step = o.loss == LossType::kMSE ? m.K : 1;
    detail::ensure_buffer(m.xc, {B, o.bptt, m.I}, dev);
    detail::ensure_buffer(m.yc, {B, o.bptt * per_step}, dev);
    detail::ensure_buffer(m.h0c, {LD, B, ro.hidden_size}, dev);
  }
}

Tensor identity_order(int64_t n, Device dev) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector({n}, v, dev);
}

// Queues a pass over the examples [begin, end) of `dd` in order (inference), adding their
// share of the mean loss over all of `dd` to loss_sum (the whole mean for the whole range).
void evaluate_queued(Trainer::Impl& m, const TrainerOptions& o, const Dataset& d,
                     const DeviceData& dd, const Tensor& order, Tensor loss_sum, int64_t begin,
                     int64_t end) {
  RNNOutput out;
  RNNInputGrads grads;
  for (int64_t first = begin; first < end; first += m.B) {
    const int64_t b = std::min(m.B, end - first);
    run_batch(m, o, d, dd, order.data(), first, b, false,
              static_cast<float>(b) / static_cast<float>(dd.n), loss_sum, out, grads, nullptr);
  }
}

}  // namespace

FitResult Trainer::fit(const Dataset& train, const Dataset* val,
                       const std::function<void(const EpochResult&)>& on_epoch) {
  Impl& m = *impl_;
  const TrainerOptions& o = options_;
  Communicator& comm = *m.comm;
  const bool parallel = comm.size() > 1;
  m.local_failure.clear();
  const Device dev = m.ctx->device();
  detail::Backend& be = m.ctx->backend();
  // Data parallel: each rank takes a shard of every global batch of global_B examples.
  const int64_t global_B = std::min(o.batch_size, train.size());
  DeviceData dtrain, dval;
  Tensor val_order, order_host, order_dev;
  local_work(m, [&] {
    check_data("Trainer::fit: train", train, *m.rnn, *m.head, o);
    if (val) {
      check_data("Trainer::fit: val", *val, *m.rnn, *m.head, o);
      if (val->seq_len != train.seq_len || val->one_hot != train.one_hot)
        throw Error("Trainer::fit: val has sequences of " + std::to_string(val->seq_len) +
                    " steps, train of " + std::to_string(train.seq_len));
    }
    if (train.size() == 0) throw Error("Trainer::fit: the training set is empty");

    // Everything the epochs need is allocated and uploaded here, before the loop.
    dtrain = upload(train, dev);
    if (val && val->size() > 0) {
      dval = upload(*val, dev);
      val_order = identity_order(dval.n, dev);
    }
    size_buffers(m, o, train, (global_B + comm.size() - 1) / comm.size());
    order_host = Tensor::empty({dtrain.n}, Device::cpu());
    order_dev = dev.is_cpu() ? order_host : Tensor::empty({dtrain.n}, dev);
  });
  if (parallel) {
    agree_on_failure(comm, "Trainer::fit", m.local_failure);
    std::mt19937_64 probe = m.gen;  // the same state draws the same first number
    detail::check_ranks_agree(
        comm, "Trainer::fit",
        {{"the training set's size", train.size()},
         {"the validation set's size", val ? val->size() : 0},
         {"the sequence length", train.seq_len},
         {"batch_size", o.batch_size},
         {"bptt", o.bptt},
         {"epochs", o.epochs},
         {"shuffle", o.shuffle ? 1 : 0},
         {"the epochs done", m.epochs_done},
         {"the optimizer's step count", m.opt->step_count()},
         {"the shuffle generator's state", static_cast<int64_t>(probe())},
         {"the number of parameters",
          m.rnn->flat_parameters().numel() + m.head->flat_parameters().numel()}});
    detail::broadcast_training_state(comm, *m.rnn, *m.head, *m.opt);
  }
  RNNOutput out;
  RNNInputGrads in_grads;
  Tensor train_sum = m.loss_sums.view({1}, 0), val_sum = m.loss_sums.view({1}, 1);
  m.opt->zero_grad();

  FitResult result;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const int64_t first_epoch = m.epochs_done + 1;
  for (int64_t epoch = first_epoch; epoch < first_epoch + o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.lr_schedule.kind != LRSchedule::Kind::kConstant)
      m.opt->set_learning_rate(static_cast<float>(o.lr_schedule.rate_at(m.base_lr, epoch - 1)));
    // The epoch's order: drawn on the host, uploaded once (one synchronising copy per epoch).
    float* oh = order_host.data();
    if (o.shuffle) {
      const std::vector<int64_t> perm = seeded_permutation(dtrain.n, m.gen);
      for (int64_t i = 0; i < dtrain.n; ++i) oh[i] = static_cast<float>(perm[i]);
    } else {
      for (int64_t i = 0; i < dtrain.n; ++i) oh[i] = static_cast<float>(i);
    }
    m.epoch = epoch;
    local_work(m, [&] {
      if (!dev.is_cpu()) order_dev.copy_from(order_host);
      detail::run(be, detail::Fill{m.loss_sums.data(), m.loss_sums.numel(), 0.0f});
    });

    int64_t step = 0;  // optimizer steps in this epoch
    for (int64_t first = 0; first < dtrain.n; first += global_B) {
      const int64_t b = std::min(global_B, dtrain.n - first);
      const Shard shard = shard_of(b, comm.rank(), comm.size());  // all of it in one process
      m.grad_share = static_cast<float>(shard.length) / static_cast<float>(b);
      run_batch(m, o, train, dtrain, order_dev.data(), first + shard.offset, shard.length, true,
                static_cast<float>(shard.length) / static_cast<float>(dtrain.n), train_sum, out,
                in_grads, &step);
      if (o.on_batch) o.on_batch(epoch, first + b, dtrain.n);
    }
    if (dval.n > 0) {
      const Shard shard = shard_of(dval.n, comm.rank(), comm.size());
      evaluate_queued(m, o, *val, dval, val_order, val_sum, shard.offset,
                      shard.offset + shard.length);
    }

    // The one read-back of the epoch (it waits for the epoch's work to finish): both losses
    // and the fault slots; data parallel, then reduced over the ranks.
    std::vector<float> sums;
    local_work(m, [&] { sums = m.loss_sums.to_vector(); });
    int fault_rank = 0;
    if (parallel) {
      agree_on_failure(comm, "Trainer::fit (epoch " + std::to_string(epoch) + ")", m.local_failure);
      fault_rank = detail::reduce_epoch_sums(comm, sums, kFirstSlot);
    }
    const auto t1 = std::chrono::steady_clock::now();
    EpochResult r;
    r.epoch = epoch;
    r.train_loss = sums[0];
    r.val_loss = dval.n > 0 ? static_cast<double>(sums[1]) : nan;
    r.seconds = std::chrono::duration<double>(t1 - t0).count();
    r.sequences_per_second = r.seconds > 0 ? static_cast<double>(dtrain.n) / r.seconds : 0.0;

    // The earliest step at which a gradient or the loss went non-finite, and what did.
    float bad_step = 0.0f;
    for (size_t s = kFirstSlot; s < sums.size(); ++s)
      if (sums[s] > 0.0f && (bad_step == 0.0f || sums[s] < bad_step)) bad_step = sums[s];
    std::vector<std::string> bad;  // the tensors non-finite at bad_step, the loss first
    if (bad_step > 0.0f) {
      if (sums.back() == bad_step) bad.push_back(m.slot_names.back());
      for (size_t s = 0; s + 1 < m.slot_names.size(); ++s)
        if (sums[kFirstSlot + s] == bad_step) bad.push_back(m.slot_names[s]);
    } else if (!std::isfinite(r.train_loss)) {
      bad.push_back("loss");  // (unreachable: the loss slot sees it; kept as a safety net)
    } else if (dval.n > 0 && !std::isfinite(r.val_loss)) {
      bad.push_back("validation loss");
    }
    // A parameter can only go non-finite through a non-finite gradient or update; the
    // checkpoint is checked before it is written all the same (save refuses non-finite files).
    TensorMap ckpt;
    if (bad.empty() && !o.checkpoint_path.empty()) {
      m.epochs_done = epoch;
      ckpt = training_checkpoint_tensors(m);
      const std::string p = first_non_finite(ckpt);
      if (!p.empty()) bad.push_back("parameter " + p);
    }
    if (!bad.empty()) {
      m.epochs_done = epoch - 1;
      std::ostringstream msg;
      msg << "Trainer::fit: training stopped at epoch " << epoch;
      if (bad_step > 0.0f) msg << ", step " << static_cast<int64_t>(bad_step) << " of " << step;
      if (bad_step > 0.0f && parallel) msg << " on rank " << fault_rank;
      msg << ": " << bad.front() << " is not finite (NaN or infinity)";
      if (bad.size() > 1) {
        msg << " (also at that step:";
        for (size_t i = 1; i < bad.size(); ++i) msg << (i > 1 ? ", " : " ") << bad[i];
        msg << ")";
      }
      msg << ". ";
      if (!m.last_checkpoint.empty())
        msg << "The last good checkpoint is '" << m.last_checkpoint << "' (after epoch "
            << m.last_checkpoint_epoch << "); nothing was saved from this epoch. ";
      else if (o.checkpoint_path.empty())
        msg << "No checkpoint was written (TrainerOptions::checkpoint_path is empty). ";
      else
        msg << "No good checkpoint was written yet ('" << o.checkpoint_path
            << "' is left as it was). ";
      msg << "The model in memory holds the faulty values. Try a lower learning rate, gradient "
             "clipping, or check the data for NaN and infinite values.";
      result.stopped = true;
      result.message = msg.str();
      result.fault_epoch = epoch;
      result.fault_step = static_cast<int64_t>(bad_step);
      result.fault_tensor = bad.front();
      result.fault_rank = fault_rank;
      break;
    }
    m.epochs_done = epoch;
    if (!o.checkpoint_path.empty()) {
      local_work(m, [&] {
        if (comm.rank() == 0) save_training_checkpoint(m, o, o.checkpoint_path, ckpt, {});
      });
      if (parallel)
        agree_on_failure(comm, "Trainer::fit (epoch " + std::to_string(epoch) + ", checkpoint)",
                         m.local_failure);
      m.last_checkpoint = o.checkpoint_path;
      m.last_checkpoint_epoch = epoch;
    }
    result.epochs.push_back(r);
    if (on_epoch) local_work(m, [&] { on_epoch(r); });
    if (parallel)  // a callback that failed on one rank (rank 0's log file, say) stops them all
      agree_on_failure(comm, "Trainer::fit (epoch " + std::to_string(epoch) + ", on_epoch)",
                       m.local_failure);
  }
  return result;
}

void Trainer::save_checkpoint(const std::string& path,
                              const std::map<std::string, std::string>& metadata) {
  if (impl_->comm->rank() != 0) return;
  save_training_checkpoint(*impl_, options_, path, training_checkpoint_tensors(*impl_), metadata);
}

std::map<std::string, std::string> Trainer::load_checkpoint(const std::string& path) {
  Impl& m = *impl_;
  const std::string call = "Trainer::load_checkpoint: '" + path + "'";
  std::map<std::string, std::string> meta;
  const TensorMap file = load_safetensors(path, &meta);  // throws on any malformed file

  // Everything is checked before anything changes.
  auto field = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end())
      throw Error(call + ": metadata field '" + key +
                  "' is missing (a training checkpoint is written by Trainer::save_checkpoint; "
                  "a model-only checkpoint loads with elman::load_checkpoint)");
    return it->second;
  };
  auto count = [&](const char* key) {
    const std::string& v = field(key);
    size_t used = 0;
    long long n = -1;
    try {
      n = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.empty() || n < 0)
      throw Error(call + ": metadata field '" + key + "' must be an integer >= 0, got '" + v + "'");
    return static_cast<int64_t>(n);
  };
  if (field("elman_training_checkpoint") != "1")
    throw Error(call + ": metadata elman_training_checkpoint is '" +
                field("elman_training_checkpoint") + "', expected '1'");
  if (field("optimizer") != m.opt->kind())
    throw Error(call + ": the checkpoint holds the state of a '" + field("optimizer") +
                "' optimizer, this trainer's is '" + m.opt->kind() + "'");
  const int64_t epoch = count("epoch");
  const int64_t steps = count("optimizer_steps");
  // The shards, and so the order of every sum, depend on the number of ranks.
  const int64_t ranks = meta.count("ranks") ? count("ranks") : 1;
  if (ranks != m.comm->size())
    throw Error(call + ": the checkpoint was written by a run on " + std::to_string(ranks) +
                (ranks == 1 ? " rank" : " ranks") + ", this trainer runs on " +
                std::to_string(m.comm->size()) + (m.comm->size() == 1 ? " rank" : " ranks") +
                ": resume with the same number (mpirun -np " + std::to_string(ranks) + ")");
  // Every epoch of fit() takes at least one optimizer step.
  if (steps < epoch)
    throw Error(call + ": metadata says " + std::to_string(epoch) + " epochs took " +
                std::to_string(steps) +
                " optimizer steps, which no training run can do (every "
                "epoch takes at least one step)");
  // Dropout's generator (checkpoints from before dropout do not record it).
  uint64_t dropout_seed = m.rnn->dropout_seed(), dropout_calls = m.rnn->dropout_calls();
  auto unsigned_count = [&](const char* key) {
    const std::string& v = field(key);
    size_t used = 0;
    unsigned long long n = 0;
    try {
      if (!v.empty() && v[0] != '-') n = std::stoull(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.empty())
      throw Error(call + ": metadata field '" + key + "' must be an integer >= 0, got '" + v + "'");
    return static_cast<uint64_t>(n);
  };
  if (meta.count("dropout_seed") || meta.count("dropout_calls")) {
    dropout_seed = unsigned_count("dropout_seed");
    dropout_calls = unsigned_count("dropout_calls");
  }
  double base_lr = m.base_lr;  // checkpoints from before schedules do not record it
  if (meta.count("base_learning_rate")) {
    const std::string& v = meta.at("base_learning_rate");
    char* end = nullptr;
    base_lr = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(base_lr) || base_lr < 0)
      throw Error(call + ": metadata base_learning_rate must be a finite number >= 0, got '" + v +
                  "'");
  }
  std::mt19937_64 gen;
  {
    std::istringstream in(field("shuffle_rng"));
    in >> gen;
    if (in.fail()) throw Error(call + ": metadata shuffle_rng is not a std::mt19937_64 state");
  }
  detail::check_model_tensors(call, file, *m.rnn, *m.head, "optimizer.");
  const std::vector<const char*> names = m.opt->state_names();
  std::map<std::string, Tensor*> states;
  for (int64_t g = 0; g < m.opt->group_count(); ++g)
    for (int k = 0; k < static_cast<int>(names.size()); ++k)
      states["optimizer." + std::to_string(g) + "." + names[static_cast<size_t>(k)]] =
          &m.opt->state(g, k);
  for (const auto& [name, arr] : file)
    if (name.compare(0, 10, "optimizer.") == 0 && !states.count(name))
      throw Error(call + ": unexpected tensor '" + name + "' for a '" + m.opt->kind() +
                  "' optimizer with " + std::to_string(m.opt->group_count()) + " groups");
  for (const auto& [name, state] : states) {
    const auto it = file.find(name);
    if (it == file.end()) throw Error(call + ": the optimizer's tensor '" + name + "' is missing");
    if (it->second.shape != Shape{state->numel()})
      throw Error(call + ": tensor '" + name + "' has shape " + shape_str(it->second.shape) +
                  ", expected " + shape_str(Shape{state->numel()}));
    const bool second_moment =
        name.size() >= 11 && name.compare(name.size() - 11, 11, ".exp_avg_sq") == 0;
    for (size_t i = 0; i < it->second.values.size(); ++i) {
      const float v = it->second.values[i];
      if (!std::isfinite(v))
        throw Error(call + ": tensor '" + name + "' has a non-finite value at index " +
                    std::to_string(i));
      if (second_moment && v < 0.0f)  // a mean of squares: Adam would take its square root
        throw Error(call + ": tensor '" + name + "' has the negative value " + std::to_string(v) +
                    " at index " + std::to_string(i) + " (a mean of squared gradients)");
    }
  }

  detail::assign_model_tensors(file, *m.rnn, *m.head);
  for (const auto& [name, state] : states)
    state->copy_from(Tensor::from_vector(state->shape(), file.at(name).values, Device::cpu()));
  m.opt->set_step_count(steps);
  m.base_lr = base_lr;
  m.rnn->set_dropout_state(dropout_seed, dropout_calls);
  m.gen = gen;
  m.epochs_done = epoch;
  m.last_checkpoint = path;
  m.last_checkpoint_epoch = epoch;
  return meta;
}

double Trainer::evaluate(const Dataset& data) {
  Impl& m = *impl_;
  check_data("Trainer::evaluate", data, *m.rnn, *m.head, options_);
  if (data.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  const Device dev = m.ctx->device();
  const DeviceData dd = upload(data, dev);
  size_buffers(m, options_, data, std::min(options_.batch_size, dd.n));
  const Tensor order = identity_order(dd.n, dev);
  Tensor sum = m.loss_sums.view({1}, 1);
  detail::run(m.ctx->backend(), detail::Fill{sum.data(), 1, 0.0f});
  evaluate_queued(m, options_, data, dd, order, sum, 0, dd.n);
  return sum.to_vector()[0];
}

std::vector<float> Trainer::predict(const Dataset& data) {
  Impl& m = *impl_;
  check_data("Trainer::predict", data, *m.rnn, *m.head, options_);
  const int64_t n = data.size();
  if (n == 0) return {};
  const Device dev = m.ctx->device();
  const DeviceData dd = upload(data, dev);
  size_buffers(m, options_, data, std::min(options_.batch_size, n));
  const Tensor order = identity_order(n, dev);
  const int64_t per = (options_.head == HeadMode::kLastStep ? 1 : m.T) * m.K;
  std::vector<float> result(static_cast<size_t>(n * per));
  Tensor scratch_sum = Tensor::zeros({1}, dev);
  RNNOutput out;
  RNNInputGrads grads;
  for (int64_t first = 0; first < n; first += m.B) {
    const int64_t b = std::min(m.B, n - first);
    run_batch(m, options_, data, dd, order.data(), first, b, false, 0.0f, scratch_sum, out, grads,
              nullptr);
    const std::vector<float> p = m.pred.view({b * per}).to_vector();
    std::copy(p.begin(), p.end(), result.begin() + first * per);
  }
  return result;
}

}  // namespace elman
