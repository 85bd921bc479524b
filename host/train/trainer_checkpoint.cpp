// Training checkpoints: the model and the optimizer's state in one safetensors file, with the
// metadata a resume needs (epoch, steps, learning rates, the shuffle and dropout generators).
// A load checks everything before it changes anything.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "elman/checkpoint.h"
#include "elman/error.h"
#include "host/train/checkpoint_internal.h"
#include "host/train/trainer_state.h"

namespace elman::detail {

TensorMap training_checkpoint_tensors(TrainerState& m) {
  TensorMap map = m.embedding ? checkpoint_tensors(*m.embedding, *m.rnn, *m.head)
                              : checkpoint_tensors(*m.rnn, *m.head);
  const std::vector<const char*> names = m.opt->state_names();
  for (int64_t g = 0; g < m.opt->group_count(); ++g)
    for (int k = 0; k < static_cast<int>(names.size()); ++k) {
      const Tensor& t = m.opt->state(g, k);
      map["optimizer." + std::to_string(g) + "." + names[static_cast<size_t>(k)]] =
          NamedArray{{t.numel()}, t.to_vector()};
    }
  return map;
}

void save_training_checkpoint(TrainerState& m, const TrainerOptions& o, const std::string& path,
                              const TensorMap& tensors,
                              const std::map<std::string, std::string>& extra) {
  refuse_non_finite("Trainer::save_checkpoint", path, tensors);
  std::map<std::string, std::string> meta = o.checkpoint_metadata;
  for (const auto& [key, value] : extra) meta[key] = value;
  std::ostringstream rng, lr, base_lr;
  rng << m.gen;
  lr.precision(9);
  lr << m.opt->learning_rate();
  base_lr.precision(17);
  base_lr << m.base_lr;
  meta["elman_training_checkpoint"] = "1";
  meta["epoch"] = std::to_string(m.epochs_done);
  meta["optimizer"] = m.opt->kind();
  meta["optimizer_steps"] = std::to_string(m.opt->step_count());
  meta["learning_rate"] = lr.str();
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

namespace {

// What a training checkpoint's metadata restores, read and checked.
struct TrainingMetadata {
  int64_t epoch = 0, steps = 0;
  uint64_t dropout_seed = 0, dropout_calls = 0;
  double base_lr = 0.0;
  std::mt19937_64 gen;
};

// The metadata fields, each named in the error that refuses it.
class MetadataReader {
 public:
  MetadataReader(std::string call, const std::map<std::string, std::string>& meta)
      : call_(std::move(call)), meta_(meta) {}
  bool has(const char* key) const { return meta_.count(key) > 0; }
  const std::string& field(const char* key) const {
    const auto it = meta_.find(key);
    if (it == meta_.end())
      throw Error(call_ + ": metadata field '" + key +
                  "' is missing (a training checkpoint is written by Trainer::save_checkpoint; "
                  "a model-only checkpoint loads with elman::load_checkpoint)");
    return it->second;
  }
  uint64_t count(const char* key) const {  // an integer >= 0
    const std::string& v = field(key);
    size_t used = 0;
    unsigned long long n = 0;
    try {
      if (!v.empty() && v[0] != '-') n = std::stoull(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.empty())
      throw Error(call_ + ": metadata field '" + key + "' must be an integer >= 0, got '" + v +
                  "'");
    return static_cast<uint64_t>(n);
  }
  int64_t signed_count(const char* key) const {
    const uint64_t n = count(key);
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(call_ + ": metadata field '" + key + "' is too large: '" + field(key) + "'");
    return static_cast<int64_t>(n);
  }

 private:
  std::string call_;
  const std::map<std::string, std::string>& meta_;
};

TrainingMetadata read_training_metadata(const std::string& call,
                                        const std::map<std::string, std::string>& meta,
                                        const TrainerState& m) {
  const MetadataReader r(call, meta);
  if (r.field("elman_training_checkpoint") != "1")
    throw Error(call + ": metadata elman_training_checkpoint is '" +
                r.field("elman_training_checkpoint") + "', expected '1'");
  if (r.field("optimizer") != m.opt->kind())
    throw Error(call + ": the checkpoint holds the state of a '" + r.field("optimizer") +
                "' optimizer, this trainer's is '" + m.opt->kind() + "'");
  TrainingMetadata t;
  t.epoch = r.signed_count("epoch");
  t.steps = r.signed_count("optimizer_steps");
  // The shards, and so the order of every sum, depend on the number of ranks.
  const int64_t ranks = r.has("ranks") ? r.signed_count("ranks") : 1;
  const int64_t size = m.comm->size();
  if (ranks != size)
    throw Error(call + ": the checkpoint was written by a run on " + std::to_string(ranks) +
                (ranks == 1 ? " rank" : " ranks") + ", this trainer runs on " +
                std::to_string(size) + (size == 1 ? " rank" : " ranks") +
                ": resume with the same number (mpirun -np " + std::to_string(ranks) + ")");
  // Every epoch of fit() takes at least one optimizer step.
  if (t.steps < t.epoch)
    throw Error(call + ": metadata says " + std::to_string(t.epoch) + " epochs took " +
                std::to_string(t.steps) +
                " optimizer steps, which no training run can do (every "
                "epoch takes at least one step)");
  // Dropout's generator and the base rate (checkpoints from before them do not record them).
  t.dropout_seed = m.rnn->dropout_seed();
  t.dropout_calls = m.rnn->dropout_calls();
  if (r.has("dropout_seed") || r.has("dropout_calls")) {
    t.dropout_seed = r.count("dropout_seed");
    t.dropout_calls = r.count("dropout_calls");
  }
  t.base_lr = m.base_lr;
  if (r.has("base_learning_rate")) {
    const std::string& v = r.field("base_learning_rate");
    char* end = nullptr;
    t.base_lr = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(t.base_lr) || t.base_lr < 0)
      throw Error(call + ": metadata base_learning_rate must be a finite number >= 0, got '" + v +
                  "'");
  }
  std::istringstream in(r.field("shuffle_rng"));
  in >> t.gen;
  if (in.fail()) throw Error(call + ": metadata shuffle_rng is not a std::mt19937_64 state");
  return t;
}

// The optimizer's tensors of `file` by name, checked: each present with its flat shape, finite,
// a second moment never negative, and no other "optimizer." tensor.
std::map<std::string, Tensor*> check_optimizer_tensors(const std::string& call,
                                                       const TensorMap& file, TrainerState& m) {
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
    const std::string kSecondMoment = ".exp_avg_sq";
    const bool second_moment =
        name.size() >= kSecondMoment.size() &&
        name.compare(name.size() - kSecondMoment.size(), kSecondMoment.size(), kSecondMoment) == 0;
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
  return states;
}

}  // namespace

std::map<std::string, std::string> load_training_checkpoint(TrainerState& m,
                                                            const std::string& path) {
  const std::string call = "Trainer::load_checkpoint: '" + path + "'";
  std::map<std::string, std::string> meta;
  const TensorMap file = load_safetensors(path, &meta);  // throws on any malformed file
  // Everything is checked before anything changes.
  const TrainingMetadata t = read_training_metadata(call, meta, m);
  check_model_tensors(call, file, m.embedding, *m.rnn, *m.head, "optimizer.");
  const std::map<std::string, Tensor*> states = check_optimizer_tensors(call, file, m);

  assign_model_tensors(file, m.embedding, *m.rnn, *m.head);
  for (const auto& [name, state] : states)
    state->copy_from(Tensor::from_vector(state->shape(), file.at(name).values, Device::cpu()));
  m.opt->set_step_count(t.steps);
  m.base_lr = t.base_lr;
  m.rnn->set_dropout_state(t.dropout_seed, t.dropout_calls);
  m.gen = t.gen;
  m.epochs_done = t.epoch;
  m.last_checkpoint = path;
  m.last_checkpoint_epoch = t.epoch;
  return meta;
}

}  // namespace elman::detail
