// What the training scenarios share between reading their data and reporting their results:
// building the model, Adam and the (possibly resumed) trainer; fitting; saving the model.
#include "scenario_common.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "ranks.h"

namespace demo {
namespace {

elman::RNNOptions rnn_options(const ModelShape& shape) {
  elman::RNNOptions ro;
  ro.input_size = shape.input_size;
  ro.hidden_size = shape.hidden_size;
  ro.num_layers = shape.num_layers;
  ro.dropout = shape.dropout;
  ro.batch_first = true;
  return ro;
}

elman::AdamOptions adam_options(const ModelShape& shape) {
  elman::AdamOptions ao;
  ao.lr = shape.lr;
  return ao;
}

// Test-only (the data-parallel end-to-end test): ELMAN_TRAIN_INJECT_FAULT=<rank>:<step>[:nan]
// makes that rank's local work fail at that optimizer step (TrainerOptions::inject_fault).
elman::TrainerOptions::InjectedFault injected_fault() {
  elman::TrainerOptions::InjectedFault f;
  const char* v = std::getenv("ELMAN_TRAIN_INJECT_FAULT");
  if (v == nullptr) return f;
  int rank = -1;
  long long step = 0;
  char kind[8] = {};
  if (std::sscanf(v, "%d:%lld:%7s", &rank, &step, kind) < 2 || rank < 0 || step < 1)
    throw elman::Error("ELMAN_TRAIN_INJECT_FAULT is '" + std::string(v) +
                       "', expected <rank>:<step>[:nan]");
  f.rank = rank;
  f.step = step;
  f.non_finite = std::string(kind) == "nan";
  return f;
}

}  // namespace

RunIdentity run_identity(const std::string& scenario, const ModelShape& shape, RunIdentity data) {
  data["scenario"] = scenario;
  data["input_size"] = std::to_string(shape.input_size);
  data["hidden_size"] = std::to_string(shape.hidden_size);
  data["output_size"] = std::to_string(shape.output_size);
  // Recorded where they differ from one layer without dropout (older runs hold neither).
  if (shape.num_layers != 1) data["num_layers"] = std::to_string(shape.num_layers);
  if (shape.dropout != 0.0f) {
    char dropout[32];
    std::snprintf(dropout, sizeof dropout, "%.9g", static_cast<double>(shape.dropout));
    data["dropout"] = dropout;
  }
  return data;
}

RunIdentity training_choices(const CommonOptions& common, const ModelShape& shape,
                             const elman::TrainerOptions& to) {
  char lr[32];
  std::snprintf(lr, sizeof lr, "%.9g", static_cast<double>(shape.lr));
  return {{"seed", std::to_string(common.seed)},
          {"batch_size", std::to_string(to.batch_size)},
          {"bptt", std::to_string(to.bptt)},
          {"lr", lr},
          {"lr_schedule", elman::LRSchedule::parse(common.lr_schedule).str()}};
}

TrainingRun::TrainingRun(elman::Context& ctx, const ModelShape& shape, const CommonOptions& common,
                         const std::filesystem::path& dir, int64_t total_epochs,
                         const RunIdentity& identity, elman::TrainerOptions to)
    : rnn(ctx, rnn_options(shape), common.seed),
      fc(ctx, shape.hidden_size, shape.output_size, common.seed + 1),
      opt(ctx, adam_options(shape)),
      dir_(dir) {
  opt.add_parameters(rnn.flat_parameters(), rnn.flat_grads());
  opt.add_parameters(fc.flat_parameters(), fc.flat_grads());
  to.seed = common.seed;
  to.lr_schedule = elman::LRSchedule::parse(common.lr_schedule);
  to.communicator = trainer_communicator(ctx);  // null in one process
  to.inject_fault = injected_fault();
  const std::string resume = plan_resume(common, dir, total_epochs, identity, to);
  // The options a resume checks (training_choices), recorded beside the identity.
  for (const auto& [key, value] : training_choices(common, shape, to))
    to.checkpoint_metadata[key] = value;
  to.on_batch = [this](int64_t epoch, int64_t done, int64_t total) {
    if (progress_) progress_->on_batch(epoch, done, total);
  };
  trainer_ = std::make_unique<elman::Trainer>(rnn, fc, opt, to);
  if (!resume.empty()) trainer_->load_checkpoint(resume);
  resumed_epochs_ = trainer_->epochs_done();
}

elman::FitResult TrainingRun::fit(const elman::Dataset& train, const elman::Dataset& val,
                                  const std::function<void(const elman::EpochResult&)>& on_epoch,
                                  double unit_scale) {
  MetricsLog metrics(dir_, resumed_epochs_, unit_scale);
  progress_ =
      std::make_unique<ProgressLine>(trainer_->epochs_done() + 1, trainer_->options().epochs);
  elman::FitResult result = trainer_->fit(train, &val, [&](const elman::EpochResult& r) {
    metrics.add(r);  // on disk after every epoch: a killed run keeps its curve
    progress_->clear();
    if (on_epoch) on_epoch(r);
    progress_->on_epoch(r.train_loss, unit_scale);
  });
  progress_.reset();  // clears the line
  return result;
}

double total_seconds(const std::vector<elman::EpochResult>& epochs) {
  double total = 0.0;
  for (const auto& r : epochs) total += r.seconds;
  return total;
}

bool stopped_early(const elman::FitResult& fit) {
  if (fit.stopped) std::cerr << "elman-train: " << fit.message << "\n";
  return fit.stopped;
}

void save_model(const std::filesystem::path& dir, elman::RNN& rnn, elman::Linear& fc,
                const std::map<std::string, std::string>& metadata, const std::string& contents) {
  if (is_rank0())  // data parallel: rank 0 writes the run folder
    elman::save_checkpoint((dir / "model.safetensors").string(), rnn, fc, metadata);
  std::cout << "run folder: " << dir.string() << " (" << contents << ")\n";
}

}  // namespace demo
