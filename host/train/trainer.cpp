// The trainer: data sets uploaded once, a mini-batch gathered on the device per step (or per
// truncated-BPTT chunk, trainer_step.cpp), the whole step queued without a read-back, the loss
// sums and fault flags read once per epoch (DESIGN.md §3), training checkpoints for resuming
// (trainer_checkpoint.cpp).
#include "elman/trainer.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "elman/error.h"
#include "host/backend.h"
#include "host/param_layout.h"
#include "host/train/data_parallel.h"
#include "host/train/trainer_state.h"

namespace elman {

using detail::TrainerState;

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

// Fault checks over one flat gradient buffer whose tensors have the given sizes (in order),
// recording into consecutive slots from `slots`.
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

// The fault slots: one per parameter tensor of every model, in order, then one for the loss.
void make_fault_slots(TrainerState& m) {
  std::vector<std::pair<Tensor, std::vector<int64_t>>> models;  // flat grads, tensor sizes
  if (m.embedding) {
    m.slot_names.push_back("grad of embedding.weight");
    models.push_back({m.embedding->flat_grads(), {m.embedding->weight().numel()}});
  }
  models.push_back({m.rnn->flat_grads(), {}});
  for (const auto& e : detail::make_param_layout(m.rnn->options()).entries) {
    m.slot_names.push_back("grad of rnn." + e.name);
    models.back().second.push_back(shape_numel(e.shape));
  }
  models.push_back({m.head->flat_grads(), {}});
  for (const std::string& name : m.head->parameter_names()) {
    m.slot_names.push_back("grad of fc." + name);
    models.back().second.push_back(m.head->parameter(name).numel());
  }
  m.slot_names.push_back("loss");
  const int64_t slots = static_cast<int64_t>(m.slot_names.size());
  m.loss_sums = Tensor::zeros({detail::kFirstSlot + slots}, m.ctx->device());
  float* slot = m.loss_sums.data() + detail::kFirstSlot;
  for (const auto& [grads, sizes] : models) {
    add_grad_checks(m.grad_checks, grads, sizes, slot);
    slot += sizes.size();
  }
  m.loss_check.x = m.loss_sums.data();  // the train loss sum
  m.loss_check.n = 1;
  m.loss_check.slots = slot;
  m.loss_check.ends[0] = 1;
  m.loss_check.segments = 1;
}

// The constructor's checks that the models, the optimizer and the options fit together.
void check_models(const Embedding* embedding, const RNN& rnn, const Linear& head,
                  const Optimizer& optimizer, const TrainerOptions& options) {
  auto fail = [](const std::string& what) { throw Error("Trainer: " + what); };
  if (rnn.context() != head.context()) fail("the RNN and the head belong to different contexts");
  if (optimizer.context() != rnn.context())
    fail("the optimizer belongs to another context than the RNN");
  // An optimizer that does not hold every model's buffers would "train" with a constant loss.
  auto held = [&](const Tensor& params, const char* model, const char* name) {
    if (!optimizer.holds(params))
      fail(std::string("the optimizer does not hold this ") + model +
           "'s parameters (call "
           "optimizer.add_parameters(" +
           name + ".flat_parameters(), " + name + ".flat_grads()))");
  };
  held(rnn.flat_parameters(), "RNN", "rnn");
  held(head.flat_parameters(), "head", "head");
  if (embedding) {
    if (embedding->context() != rnn.context())
      fail("the embedding and the RNN belong to different contexts");
    held(embedding->flat_parameters(), "embedding", "embedding");
    if (embedding->embedding_dim() != rnn.options().input_size)
      fail("the embedding's embedding_dim is " + std::to_string(embedding->embedding_dim()) +
           ", the RNN's input_size " + std::to_string(rnn.options().input_size) +
           ": they must be equal");
  }
  if (!(options.clip_norm >= 0.0f) || !std::isfinite(options.clip_norm))
    fail("clip_norm must be 0 (off) or a finite value > 0, got " +
         std::to_string(options.clip_norm));
  const int64_t DH = rnn.options().num_directions() * rnn.options().hidden_size;
  if (head.in_features() != DH)
    fail("head.in_features is " + std::to_string(head.in_features()) +
         ", expected the RNN's output width " + std::to_string(DH));
  if (options.batch_size < 1)
    fail("batch_size must be >= 1, got " + std::to_string(options.batch_size));
  if (options.epochs < 0) fail("epochs must be >= 0, got " + std::to_string(options.epochs));
  if (options.bptt < 0)
    fail("bptt must be >= 0 (0: full BPTT), got " + std::to_string(options.bptt));
  options.lr_schedule.validate();
}

}  // namespace

namespace {

void set_up(TrainerState& m, Embedding* embedding, RNN& rnn, Linear& head, Optimizer& optimizer,
            const TrainerOptions& options) {
  check_models(embedding, rnn, head, optimizer, options);
  m.embedding = embedding;
  m.rnn = &rnn;
  m.head = &head;
  m.opt = &optimizer;
  m.base_lr = optimizer.learning_rate();
  m.ctx = &rnn.context();
  if (options.clip_norm > 0.0f)
    m.clipper = std::make_unique<GradNormClipper>(*m.ctx, options.clip_norm);
  m.gen.seed(options.seed);
  if (options.communicator) m.comm = options.communicator;
  make_fault_slots(m);
}

}  // namespace

Trainer::Trainer(RNN& rnn, Linear& head, Optimizer& optimizer, const TrainerOptions& options)
    : impl_(std::make_unique<TrainerState>()), options_(options) {
  set_up(*impl_, nullptr, rnn, head, optimizer, options);
}

Trainer::Trainer(Embedding& embedding, RNN& rnn, Linear& head, Optimizer& optimizer,
                 const TrainerOptions& options)
    : impl_(std::make_unique<TrainerState>()), options_(options) {
  set_up(*impl_, &embedding, rnn, head, optimizer, options);
}

int64_t Trainer::epochs_done() const { return impl_->epochs_done; }

Trainer::~Trainer() = default;

namespace {

// What fit() uploads and sizes before its first epoch.
struct FitData {
  detail::DeviceData train, val;
  int64_t global_B = 0;  // data parallel: each rank takes a shard of every global batch
};

FitData prepare_fit(TrainerState& m, const TrainerOptions& o, const Dataset& train,
                    const Dataset* val) {
  FitData fd;
  fd.global_B = std::min(o.batch_size, train.size());
  detail::local_work(m, [&] {
    detail::check_data("Trainer::fit: train", train, m, o);
    if (val) {
      detail::check_data("Trainer::fit: val", *val, m, o);
      if (val->seq_len != train.seq_len || val->tokens != train.tokens)
        throw Error("Trainer::fit: val has sequences of " + std::to_string(val->seq_len) +
                    " steps" + (val->tokens ? " of tokens" : "") + ", train of " +
                    std::to_string(train.seq_len) + (train.tokens ? " of tokens" : ""));
    }
    if (train.size() == 0) throw Error("Trainer::fit: the training set is empty");
    // Everything the epochs need is allocated and uploaded here, before the loop.
    fd.train = detail::upload(train, m);
    if (val && val->size() > 0) fd.val = detail::upload(*val, m);
    detail::size_buffers(m, o, train, (fd.global_B + m.comm->size() - 1) / m.comm->size());
    m.order.reserve(detail::backend_of(*m.ctx), static_cast<size_t>(fd.train.n));
  });
  return fd;
}

// Data parallel: the ranks agree on what they train, then take rank 0's state.
void agree_on_fit(TrainerState& m, const TrainerOptions& o, const Dataset& train,
                  const Dataset* val) {
  Communicator& comm = *m.comm;
  agree_on_failure(comm, "Trainer::fit", m.local_failure);
  std::mt19937_64 probe = m.gen;  // the same state draws the same first number
  int64_t parameters = 0;
  for (const Tensor& p : m.parameters()) parameters += p.numel();
  detail::check_ranks_agree(comm, "Trainer::fit",
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
                             {"the number of parameters", parameters}});
  detail::broadcast_training_state(comm, m.parameters(), *m.opt);
}

// The epoch's order: drawn on the host, uploaded once (int32: any data set size up to 2^31-1).
void upload_epoch_order(TrainerState& m, const TrainerOptions& o, int64_t n) {
  std::vector<int32_t> order(static_cast<size_t>(n));
  if (o.shuffle) {
    const std::vector<int64_t> perm = seeded_permutation(n, m.gen);
    for (int64_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(perm[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(i);
  }
  detail::local_work(m, [&] { m.order.upload(detail::backend_of(*m.ctx), order); });
}

// Queues a pass over the examples [begin, end) of `dd` in order (inference), adding their
// share of the mean loss over all of `dd` to loss_sum (the whole mean for the whole range).
void evaluate_queued(TrainerState& m, const TrainerOptions& o, const detail::DeviceData& dd,
                     Tensor loss_sum, int64_t begin, int64_t end) {
  for (int64_t first = begin; first < end; first += m.B) {
    const int64_t b = std::min(m.B, end - first);
    detail::run_batch(m, o, dd, nullptr, first, b, false,
                      static_cast<float>(b) / static_cast<float>(dd.n), loss_sum, nullptr);
  }
}

// One epoch's work, queued: every training batch (this rank's shard of it) with its optimizer
// steps, then the validation pass. Returns the optimizer steps taken.
int64_t queue_epoch(TrainerState& m, const TrainerOptions& o, const FitData& fd, int64_t epoch) {
  Communicator& comm = *m.comm;
  Tensor train_sum = m.loss_sums.view({1}, 0), val_sum = m.loss_sums.view({1}, 1);
  const int64_t n = fd.train.n;
  int64_t step = 0;
  for (int64_t first = 0; first < n; first += fd.global_B) {
    const int64_t b = std::min(fd.global_B, n - first);
    const Shard shard = shard_of(b, comm.rank(), comm.size());
    m.grad_share = static_cast<float>(shard.length) / static_cast<float>(b);
    detail::run_batch(m, o, fd.train, m.order.data(), first + shard.offset, shard.length, true,
                      static_cast<float>(shard.length) / static_cast<float>(n), train_sum, &step);
    if (o.on_batch) o.on_batch(epoch, first + b, n);
  }
  if (fd.val.n > 0) {
    const Shard shard = shard_of(fd.val.n, comm.rank(), comm.size());
    evaluate_queued(m, o, fd.val, val_sum, shard.offset, shard.offset + shard.length);
  }
  return step;
}

// What went non-finite in an epoch: the earliest step (0: none) and the tensors that were at
// that step, the loss first; or the validation loss, or a parameter of the checkpoint.
struct Fault {
  float step = 0.0f;
  std::vector<std::string> tensors;
};

Fault find_fault(const TrainerState& m, const std::vector<float>& sums, const EpochResult& r,
                 bool has_val) {
  Fault f;
  for (size_t s = detail::kFirstSlot; s < sums.size(); ++s)
    if (sums[s] > 0.0f && (f.step == 0.0f || sums[s] < f.step)) f.step = sums[s];
  if (f.step > 0.0f) {
    if (sums.back() == f.step) f.tensors.push_back(m.slot_names.back());
    for (size_t s = 0; s + 1 < m.slot_names.size(); ++s)
      if (sums[detail::kFirstSlot + s] == f.step) f.tensors.push_back(m.slot_names[s]);
  } else if (has_val && !std::isfinite(r.val_loss)) {
    f.tensors.push_back("validation loss");
  }
  return f;
}

std::string fault_message(const TrainerState& m, const TrainerOptions& o, int64_t epoch,
                          const Fault& f, int64_t steps, int fault_rank) {
  std::ostringstream msg;
  msg << "Trainer::fit: training stopped at epoch " << epoch;
  if (f.step > 0.0f) msg << ", step " << static_cast<int64_t>(f.step) << " of " << steps;
  if (f.step > 0.0f && m.comm->size() > 1) msg << " on rank " << fault_rank;
  msg << ": " << f.tensors.front() << " is not finite (NaN or infinity)";
  if (f.tensors.size() > 1) {
    msg << " (also at that step:";
    for (size_t i = 1; i < f.tensors.size(); ++i) msg << (i > 1 ? ", " : " ") << f.tensors[i];
    msg << ")";
  }
  msg << ". ";
  if (!m.last_checkpoint.empty())
    msg << "The last good checkpoint is '" << m.last_checkpoint << "' (after epoch "
        << m.last_checkpoint_epoch << "); nothing was saved from this epoch. ";
  else if (o.checkpoint_path.empty())
    msg << "No checkpoint was written (TrainerOptions::checkpoint_path is empty). ";
  else
    msg << "No good checkpoint was written yet ('" << o.checkpoint_path << "' is left as it was). ";
  msg << "The model in memory holds the faulty values. Try a lower learning rate, gradient "
         "clipping, or check the data for NaN and infinite values.";
  return msg.str();
}

// Writes the epoch's checkpoint (rank 0; every rank learns whether it failed).
void write_epoch_checkpoint(TrainerState& m, const TrainerOptions& o, int64_t epoch,
                            const TensorMap& tensors) {
  detail::local_work(m, [&] {
    if (m.comm->rank() == 0) detail::save_training_checkpoint(m, o, o.checkpoint_path, tensors, {});
  });
  if (m.comm->size() > 1)
    agree_on_failure(*m.comm, "Trainer::fit (epoch " + std::to_string(epoch) + ", checkpoint)",
                     m.local_failure);
  m.last_checkpoint = o.checkpoint_path;
  m.last_checkpoint_epoch = epoch;
}

// The one read-back of the epoch (it waits for the epoch's work to finish): both losses and
// the fault slots; data parallel, then reduced over the ranks (fault_rank: whose fault it was).
std::vector<float> read_epoch_sums(TrainerState& m, int64_t epoch, int& fault_rank) {
  std::vector<float> sums;
  detail::local_work(m, [&] { sums = m.loss_sums.to_vector(); });
  fault_rank = 0;
  if (m.comm->size() > 1) {
    agree_on_failure(*m.comm, "Trainer::fit (epoch " + std::to_string(epoch) + ")",
                     m.local_failure);
    fault_rank = detail::reduce_epoch_sums(*m.comm, sums, detail::kFirstSlot);
  }
  return sums;
}

// A stopped run's result: the message and what it names.
void record_stop(const TrainerState& m, const TrainerOptions& o, int64_t epoch, const Fault& f,
                 int64_t steps, int fault_rank, FitResult& result) {
  result.stopped = true;
  result.message = fault_message(m, o, epoch, f, steps, fault_rank);
  result.fault_epoch = epoch;
  result.fault_step = static_cast<int64_t>(f.step);
  result.fault_tensor = f.tensors.front();
  result.fault_rank = fault_rank;
}

}  // namespace

FitResult Trainer::fit(const Dataset& train, const Dataset* val,
                       const std::function<void(const EpochResult&)>& on_epoch) {
  TrainerState& m = *impl_;
  const TrainerOptions& o = options_;
  const bool parallel = m.comm->size() > 1;
  m.local_failure.clear();
  const FitData fd = prepare_fit(m, o, train, val);
  if (parallel) agree_on_fit(m, o, train, val);
  m.opt->zero_grad();

  FitResult result;
  const int64_t first_epoch = m.epochs_done + 1;
  for (int64_t epoch = first_epoch; epoch < first_epoch + o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.lr_schedule.kind != LRSchedule::Kind::kConstant)
      m.opt->set_learning_rate(static_cast<float>(o.lr_schedule.rate_at(m.base_lr, epoch - 1)));
    m.epoch = epoch;
    upload_epoch_order(m, o, fd.train.n);
    detail::local_work(m, [&] {
      detail::run(detail::backend_of(*m.ctx),
                  detail::Fill{m.loss_sums.data(), m.loss_sums.numel(), 0.0f});
    });
    const int64_t steps = queue_epoch(m, o, fd, epoch);

    int fault_rank = 0;
    const std::vector<float> sums = read_epoch_sums(m, epoch, fault_rank);
    EpochResult r;
    r.epoch = epoch;
    r.train_loss = sums[0];
    r.val_loss =
        fd.val.n > 0 ? static_cast<double>(sums[1]) : std::numeric_limits<double>::quiet_NaN();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.sequences_per_second = r.seconds > 0 ? static_cast<double>(fd.train.n) / r.seconds : 0.0;

    Fault fault = find_fault(m, sums, r, fd.val.n > 0);
    // A parameter can only go non-finite through a non-finite gradient or update; the
    // checkpoint is checked before it is written all the same (save refuses non-finite files).
    TensorMap ckpt;
    if (fault.tensors.empty() && !o.checkpoint_path.empty()) {
      m.epochs_done = epoch;
      ckpt = detail::training_checkpoint_tensors(m);
      const std::string p = first_non_finite(ckpt);
      if (!p.empty()) fault.tensors.push_back("parameter " + p);
    }
    if (!fault.tensors.empty()) {
      m.epochs_done = epoch - 1;
      record_stop(m, o, epoch, fault, steps, fault_rank, result);
      break;
    }
    m.epochs_done = epoch;
    if (!o.checkpoint_path.empty()) write_epoch_checkpoint(m, o, epoch, ckpt);
    result.epochs.push_back(r);
    if (on_epoch) detail::local_work(m, [&] { on_epoch(r); });
    if (parallel)  // a callback that failed on one rank (rank 0's log file, say) stops them all
      agree_on_failure(*m.comm, "Trainer::fit (epoch " + std::to_string(epoch) + ", on_epoch)",
                       m.local_failure);
  }
  return result;
}

void Trainer::save_checkpoint(const std::string& path,
                              const std::map<std::string, std::string>& metadata) {
  if (impl_->comm->rank() != 0) return;
  detail::save_training_checkpoint(*impl_, options_, path,
                                   detail::training_checkpoint_tensors(*impl_), metadata);
}

std::map<std::string, std::string> Trainer::load_checkpoint(const std::string& path) {
  return detail::load_training_checkpoint(*impl_, path);
}

double Trainer::evaluate(const Dataset& data) {
  TrainerState& m = *impl_;
  detail::check_data("Trainer::evaluate", data, m, options_);
  if (data.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  const detail::DeviceData dd = detail::upload(data, m);
  detail::size_buffers(m, options_, data, std::min(options_.batch_size, dd.n));
  Tensor sum = m.loss_sums.view({1}, 1);
  detail::run(detail::backend_of(*m.ctx), detail::Fill{sum.data(), 1, 0.0f});
  evaluate_queued(m, options_, dd, sum, 0, dd.n);
  return sum.to_vector()[0];
}

std::vector<float> Trainer::predict(const Dataset& data) {
  TrainerState& m = *impl_;
  detail::check_data("Trainer::predict", data, m, options_);
  const int64_t n = data.size();
  if (n == 0) return {};
  const detail::DeviceData dd = detail::upload(data, m);
  detail::size_buffers(m, options_, data, std::min(options_.batch_size, n));
  const bool every_step = options_.head == HeadMode::kEveryStep;
  const int64_t steps = every_step ? m.T : 1, K = m.K;
  std::vector<float> result(static_cast<size_t>(n * steps * K));
  Tensor scratch_sum = Tensor::zeros({1}, m.ctx->device());
  for (int64_t first = 0; first < n; first += m.B) {
    const int64_t b = std::min(m.B, n - first);
    detail::run_batch(m, options_, dd, nullptr, first, b, false, 0.0f, scratch_sum, nullptr);
    const std::vector<float> p = m.pred.view({b * steps * K}).to_vector();
    // Rows come in the batch's layout: (step, example) order when the RNN is time-major.
    const bool step_major = every_step && m.time_major();
    for (int64_t r = 0; r < b; ++r)
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t row = step_major ? t * b + r : r * steps + t;
        std::copy(p.begin() + row * K, p.begin() + (row + 1) * K,
                  result.begin() + ((first + r) * steps + t) * K);
      }
  }
  return result;
}

}  // namespace elman
