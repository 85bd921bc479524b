// elman-bench --train: end-to-end training side by side. The char-LM of `elman-train chars` for
// one epoch in elman (its Trainer, set up by the demo's own code) and in PyTorch
// (bench/pytorch_train.py) from the same weights, data and order: sequences per second.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace elman::bench {

struct TrainBenchConfig {
  std::string text;                  // the text file (data/tinyshakespeare.txt)
  int64_t max_chars = 300000;        // its first characters used
  std::string python, script;        // the PyTorch side
  std::vector<int> pytorch_threads;  // PyTorch's thread counts, each tried; the fastest reported
};

// One side's timed epoch.
struct TrainSide {
  std::string status = "not run";  // "ok", "not available", "error"
  std::string reason;              // why, when not "ok"
  int threads = 0;
  double seconds = 0;    // the epoch: batches gathered, forward, loss, backward, clip, Adam step
  double seq_per_s = 0;  // training sequences / seconds
  double loss = 0;       // the epoch's mean cross-entropy, nats per character
};

struct TrainResult {
  // The configuration (elman-train chars' defaults but one epoch and max_chars).
  std::string text;
  int64_t chars = 0, vocabulary = 0, hidden = 0, batch = 0, seq_len = 0, bptt = 0;
  int64_t sequences = 0;  // training sequences in the epoch
  float lr = 0, clip = 0;
  uint64_t seed = 0;

  TrainSide elman;
  int elman_blas_threads = 0;      // OpenBLAS's threads behind elman's CPU GEMMs
  int elman_threads = 0;           // the context's threads (the fused recurrence's pool)
  std::vector<TrainSide> pytorch;  // one per thread count tried (one "not available" entry
                                   // when PyTorch is missing)
  std::string pytorch_version;

  const TrainSide* best_pytorch() const;  // the fastest "ok" run; nullptr when none
};

// Loads the data, trains elman's epoch, then PyTorch's (once per thread count). Progress goes to
// stderr. Throws elman::Error when elman's side cannot run (e.g. the text is missing); a missing
// PyTorch is a result ("not available"), not an error.
TrainResult run_train_bench(const TrainBenchConfig& config);

// The losses of both sides after their epochs, which start from the same weights and see the same
// batches, are close: the sanity check of the comparison. Their relative difference, and whether
// it is within kTrainLossTolerance.
double train_loss_difference(const TrainResult& r);
bool train_losses_agree(const TrainResult& r);
// Measured here: 6.5e-6 apart after the 300,000-character epoch (2.5e-6 at 100,000): float32
// rounding, compounded over ~170 Adam steps. The same batches in another order (reversed) put
// them 1.1e-2 apart. 1e-3 leaves 150x for rounding on other machines and thread counts and still
// catches a wrong data order.
constexpr double kTrainLossTolerance = 1e-3;

void print_train(std::ostream& os, const TrainResult& r);
// {"train": {"elman_seq_per_s", "pytorch_seq_per_s", "ratio" (elman / PyTorch, > 1: elman is
// faster), the configuration, thread counts, losses, every PyTorch run, ...}}; PyTorch's
// numbers are null (and its status says why) when it did not run.
nlohmann::json train_to_json(const TrainResult& r);

}  // namespace elman::bench
