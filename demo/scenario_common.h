// The model, optimizer and trainer every training scenario (next-number, series, chars) builds,
// and the steps that close a run: metrics.csv, the early-stop check and model.safetensors.
#pragma once

#include <elman/elman.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "progress.h"
#include "run_folder.h"

namespace demo {

// RNN(input_size, hidden_size, batch_first) + Linear(hidden_size, output_size), Adam at `lr`;
// with embedding_dim > 0, Embedding(input_size, embedding_dim) of token inputs first and
// RNN(embedding_dim, ...).
struct ModelShape {
  int64_t input_size = 1, hidden_size = 1, output_size = 1;
  float lr = 0.01f;
  int64_t num_layers = 1;
  float dropout = 0.0f;  // between layers, in training (RNNOptions::dropout)
  int64_t embedding_dim = 0;
};

// One scenario's model (RNN seeded with --seed, Linear with --seed + 1, an Embedding, if any, with
// --seed + 3), Adam over all, and
// the Trainer: `to` (batch size, head, loss, clipping, BPTT: the scenario's) gets --seed as its
// shuffle seed and, through plan_resume, <dir>/training.safetensors and the epochs still to go;
// with --resume the trainer starts from that checkpoint. Prints what plan_resume prints.
// The identity of a training run (RunIdentity): the scenario, the model's sizes and `data`,
// the options that define the data (file, column, window, vocabulary, encoding, ...).
RunIdentity run_identity(const std::string& scenario, const ModelShape& shape, RunIdentity data);

// The training options a resumed run keeps unless --allow-changes (make_run_folder): seed,
// batch_size, bptt, lr_schedule (as the trainer records them) and lr. `to` is the scenario's.
RunIdentity training_choices(const CommonOptions& common, const ModelShape& shape,
                             const elman::TrainerOptions& to);

class TrainingRun {
 public:
  // `identity` (run_identity) goes into every training checkpoint; make_run_folder has already
  // checked a resumed checkpoint against it.
  TrainingRun(elman::Context& ctx, const ModelShape& shape, const CommonOptions& common,
              const std::filesystem::path& dir, int64_t total_epochs, const RunIdentity& identity,
              elman::TrainerOptions to);

  // Trains (on_epoch after every good epoch) and rewrites metrics.csv atomically after every
  // epoch with the losses times `unit_scale`, keeping the rows of the epochs a resumed
  // checkpoint had done.
  elman::FitResult fit(const elman::Dataset& train, const elman::Dataset& val,
                       const std::function<void(const elman::EpochResult&)>& on_epoch,
                       double unit_scale = 1.0);

  elman::Trainer& trainer() { return *trainer_; }
  TrainingRun(TrainingRun&&) = delete;  // the trainer's progress callback points at this one

  std::optional<elman::Embedding> embedding;  // when ModelShape::embedding_dim > 0
  elman::RNN rnn;
  elman::Linear fc;
  elman::Adam opt;

 private:
  std::filesystem::path dir_;
  std::unique_ptr<elman::Trainer> trainer_;  // built after opt holds rnn's and fc's buffers
  std::unique_ptr<ProgressLine> progress_;   // during fit()
  int64_t resumed_epochs_ = 0;
};

// The seconds the epochs took, summed.
double total_seconds(const std::vector<elman::EpochResult>& epochs);

// True when training stopped on a numerical fault; then prints its message to stderr.
bool stopped_early(const elman::FitResult& fit);

// Saves the run's model (embedding, if any, rnn and fc) with `metadata` as
// <dir>/model.safetensors and prints "run folder: <dir> (<contents>)".
void save_model(const std::filesystem::path& dir, TrainingRun& run,
                const std::map<std::string, std::string>& metadata, const std::string& contents);

}  // namespace demo
