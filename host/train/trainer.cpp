// The trainer: data sets uploaded once, a mini-batch gathered on the device per step, the whole
// step queued without a read-back, and the loss sums read once per epoch (DESIGN.md §3).
#include "elman/trainer.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "elman/error.h"
#include "elman/loss.h"
#include "host/backend.h"
#include "host/buffers.h"
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
  RNNCache cache;
  Tensor loss_sums;  // [2] on the device: the epoch's train and validation loss
  Tensor order_dev, order_host, identity_dev;

  int64_t T = 0, B = 0, I = 0, DH = 0, K = 0;
};

Trainer::Trainer(RNN& rnn, Linear& head, Optimizer& optimizer, const TrainerOptions& options)
    : impl_(std::make_unique<Impl>()), options_(options) {
  constexpr const char* kCall = "Trainer";
  if (&rnn.context() != &head.context())
    throw Error(std::string(kCall) + ": the RNN and the head belong to different contexts");
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
  impl_->ctx = &rnn.context();
  if (options.clip_norm > 0.0f)
    impl_->clipper = std::make_unique<GradNormClipper>(*impl_->ctx, options.clip_norm);
}

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

// One pass of `b` examples (order[first, first + b)) through the model. With `train`, also the
// backward pass, clipping and the optimizer step. The batch's mean loss, times `weight`, is
// added to loss_sum on the device.
void run_batch(Trainer::Impl& m, const TrainerOptions& o, const Dataset& d, const DeviceData& dd,
               const float* order, int64_t first, int64_t b, bool train, float weight,
               Tensor& loss_sum, RNNOutput& out, RNNInputGrads& in_grads) {
  detail::Backend& be = m.ctx->backend();
  RNN& rnn = *m.rnn;
  Linear& head = *m.head;
  const int64_t T = m.T, I = m.I, DH = m.DH, K = m.K;
  const int64_t LD = rnn.options().num_layers * rnn.options().num_directions();
  const int64_t H = rnn.options().hidden_size;
  // Views of the full-batch buffers for this batch's size (no allocation).
  Tensor x = m.x.view({b, T, I});
  Tensor y = m.y.view({b, d.target_size});
  if (d.one_hot)
    detail::run(be, detail::GatherOneHot{dd.inputs.data(), order, x.data(), first, b, T, I});
  else
    detail::run(be, detail::GatherRows{dd.inputs.data(), order, x.data(), first, b, T * I});
  detail::run(be, detail::GatherRows{dd.targets.data(), order, y.data(), first, b, d.target_size});

  out.output = m.out_buf.view({b, T, DH});
  out.h_n = m.hn_buf.view({LD, b, H});
  if (train)
    rnn.forward_train_into(x, Tensor(), m.cache, out);
  else
    rnn.forward_into(x, Tensor(), out);

  const bool last_step = o.head == HeadMode::kLastStep;
  const int64_t rows = last_step ? b : b * T;
  Tensor features;  // [rows, D*H]: what the head sees
  if (last_step) {
    features = m.last.view({b, DH});
    detail::run(
        be, detail::CopyRows{out.output.data() + (T - 1) * DH, features.data(), b, DH, T * DH, DH});
  } else {
    features = out.output.view({b * T, DH});
  }
  Tensor pred = m.pred.view({rows, K});
  Tensor grad_pred = m.grad_pred.view({rows, K});
  head.forward_into(features, pred);
  if (o.loss == LossType::kMSE)
    m.mse.forward_backward(*m.ctx, pred, y.view({rows, K}), grad_pred, &loss_sum, weight);
  else
    m.ce.forward_backward(*m.ctx, pred, y.view({rows}), grad_pred, &loss_sum, weight);
  if (!train) return;

  Tensor grad_output = m.grad_output.view({b, T, DH});
  if (last_step) {
    Tensor grad_last = m.grad_last.view({b, DH});
    head.backward_into(features, grad_pred, &grad_last);
    detail::run(be, detail::Fill{grad_output.data(), grad_output.numel(), 0.0f});
    detail::run(be, detail::CopyRows{grad_last.data(), grad_output.data() + (T - 1) * DH, b, DH, DH,
                                     T * DH});
  } else {
    Tensor grad_flat = grad_output.view({b * T, DH});
    head.backward_into(features, grad_pred, &grad_flat);
  }
  in_grads.grad_input = m.gin_buf.view({b, T, I});
  in_grads.grad_h0 = m.gh0_buf.view({LD, b, H});
  rnn.backward_into(m.cache, grad_output, Tensor(), in_grads);
  if (m.clipper) m.clipper->clip({rnn.flat_grads(), head.flat_grads()});
  m.opt->step();
  m.opt->zero_grad();
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
  if (!m.loss_sums.defined()) m.loss_sums = Tensor::zeros({2}, dev);
}

Tensor identity_order(int64_t n, Device dev) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector({n}, v, dev);
}

// Queues a pass over all of `dd` in order (inference), adding its mean loss to loss_sum.
void evaluate_queued(Trainer::Impl& m, const TrainerOptions& o, const Dataset& d,
                     const DeviceData& dd, const Tensor& order, Tensor loss_sum) {
  RNNOutput out;
  RNNInputGrads grads;
  for (int64_t first = 0; first < dd.n; first += m.B) {
    const int64_t b = std::min(m.B, dd.n - first);
    run_batch(m, o, d, dd, order.data(), first, b, false,
              static_cast<float>(b) / static_cast<float>(dd.n), loss_sum, out, grads);
  }
}

}  // namespace

FitResult Trainer::fit(const Dataset& train, const Dataset* val,
                       const std::function<void(const EpochResult&)>& on_epoch) {
  Impl& m = *impl_;
  const TrainerOptions& o = options_;
  check_data("Trainer::fit: train", train, *m.rnn, *m.head, o);
  if (val) {
    check_data("Trainer::fit: val", *val, *m.rnn, *m.head, o);
    if (val->seq_len != train.seq_len || val->one_hot != train.one_hot)
      throw Error("Trainer::fit: val has sequences of " + std::to_string(val->seq_len) +
                  " steps, train of " + std::to_string(train.seq_len));
  }
  if (train.size() == 0) throw Error("Trainer::fit: the training set is empty");
  const Device dev = m.ctx->device();
  detail::Backend& be = m.ctx->backend();

  // Everything the epochs need is allocated and uploaded here, before the loop.
  const DeviceData dtrain = upload(train, dev);
  DeviceData dval;
  Tensor val_order;
  if (val && val->size() > 0) {
    dval = upload(*val, dev);
    val_order = identity_order(dval.n, dev);
  }
  size_buffers(m, o, train, std::min(o.batch_size, dtrain.n));
  Tensor order_host = Tensor::empty({dtrain.n}, Device::cpu());
  Tensor order_dev = dev.is_cpu() ? order_host : Tensor::empty({dtrain.n}, dev);
  std::mt19937_64 gen(o.seed);
  RNNOutput out;
  RNNInputGrads in_grads;
  Tensor train_sum = m.loss_sums.view({1}, 0), val_sum = m.loss_sums.view({1}, 1);
  m.opt->zero_grad();

  FitResult result;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    // The epoch's order: drawn on the host, uploaded once (one synchronising copy per epoch).
    float* oh = order_host.data();
    if (o.shuffle) {
      const std::vector<int64_t> perm = seeded_permutation(dtrain.n, gen);
      for (int64_t i = 0; i < dtrain.n; ++i) oh[i] = static_cast<float>(perm[i]);
    } else {
      for (int64_t i = 0; i < dtrain.n; ++i) oh[i] = static_cast<float>(i);
    }
    if (!dev.is_cpu()) order_dev.copy_from(order_host);
    detail::run(be, detail::Fill{m.loss_sums.data(), 2, 0.0f});

    for (int64_t first = 0; first < dtrain.n; first += m.B) {
      const int64_t b = std::min(m.B, dtrain.n - first);
      run_batch(m, o, train, dtrain, order_dev.data(), first, b, true,
                static_cast<float>(b) / static_cast<float>(dtrain.n), train_sum, out, in_grads);
    }
    if (dval.n > 0) evaluate_queued(m, o, *val, dval, val_order, val_sum);

    // The one read-back of the epoch (it waits for the epoch's work to finish).
    const std::vector<float> sums = m.loss_sums.to_vector();
    const auto t1 = std::chrono::steady_clock::now();
    EpochResult r;
    r.epoch = epoch;
    r.train_loss = sums[0];
    r.val_loss = dval.n > 0 ? static_cast<double>(sums[1]) : nan;
    r.seconds = std::chrono::duration<double>(t1 - t0).count();
    r.sequences_per_second = r.seconds > 0 ? static_cast<double>(dtrain.n) / r.seconds : 0.0;
    result.epochs.push_back(r);
    if (on_epoch) on_epoch(r);
    const bool bad_train = !std::isfinite(r.train_loss);
    const bool bad_val = dval.n > 0 && !std::isfinite(r.val_loss);
    if (bad_train || bad_val) {
      std::ostringstream msg;
      msg << "training stopped at epoch " << epoch << ": the "
          << (bad_train ? "training" : "validation") << " loss is "
          << (bad_train ? r.train_loss : r.val_loss)
          << " (not finite). The model has diverged; try a lower learning rate, gradient "
             "clipping, or normalised inputs.";
      result.stopped = true;
      result.message = msg.str();
      break;
    }
  }
  return result;
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
  evaluate_queued(m, options_, data, dd, order, sum);
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
    run_batch(m, options_, data, dd, order.data(), first, b, false, 0.0f, scratch_sum, out, grads);
    const std::vector<float> p = m.pred.view({b * per}).to_vector();
    std::copy(p.begin(), p.end(), result.begin() + first * per);
  }
  return result;
}

}  // namespace elman
