// elman::Trainer: mini-batch training of an RNN + Linear head (PyTorch's RNN -> fc model) with a
// seeded shuffle, epochs, a validation set, and the loss read back once per epoch, not per step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "elman/data.h"
#include "elman/linear.h"
#include "elman/optim.h"
#include "elman/rnn.h"

namespace elman {

enum class HeadMode {
  kLastStep,   // many-to-one: fc(output[:, -1, :]), the tutorial's model
  kEveryStep,  // many-to-many: fc(output[:, t, :]) for every t
};
enum class LossType { kMSE, kCrossEntropy };

struct TrainerOptions {
  int64_t epochs = 10;
  int64_t batch_size = 32;
  uint64_t seed = 0;       // the shuffle's generator (std::mt19937_64)
  bool shuffle = true;     // reshuffle the training set every epoch
  float clip_norm = 0.0f;  // global gradient-norm clipping; 0 disables it
  HeadMode head = HeadMode::kLastStep;
  LossType loss = LossType::kMSE;
};

struct EpochResult {
  int64_t epoch = 0;        // 1-based
  double train_loss = 0.0;  // mean over the epoch's examples (per element / per step)
  double val_loss = 0.0;    // NaN without a validation set
  double seconds = 0.0;
  double sequences_per_second = 0.0;
};

struct FitResult {
  std::vector<EpochResult> epochs;
  bool stopped = false;  // a non-finite loss stopped training early
  std::string message;   // why, when stopped
};

// The model is `rnn` (batch_first) followed by `head` on its output; the optimizer must hold
// both models' flat buffers. Data sets follow elman::Dataset's layout for the head and loss:
// kLastStep + kMSE: targets [N, K]; kEveryStep + kMSE: [N, T * K]; kCrossEntropy: class ids
// [N, 1] (last step) or [N, T] (every step).
//
// One training step, all queued on the device with no read-back: gather the batch from the
// uploaded data set by the epoch's order, forward_train, head, fused loss + gradient (its mean
// added to a device scalar), head and RNN backward, optional clipping, optimizer step.
// Per epoch the host uploads the shuffled order once and reads the two loss sums once.
class Trainer {
 public:
  Trainer(RNN& rnn, Linear& head, Optimizer& optimizer, const TrainerOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains for options.epochs; `val` may be null. `on_epoch` (may be empty) is called after
  // every epoch. Stops early, with FitResult::stopped and a message, on a non-finite loss.
  FitResult fit(const Dataset& train, const Dataset* val,
                const std::function<void(const EpochResult&)>& on_epoch = {});
  // The mean loss over a data set (inference forward; synchronises once at the end).
  double evaluate(const Dataset& data);
  // The head's outputs for every example, on the host: [N, K] (last step) or [N, T, K].
  std::vector<float> predict(const Dataset& data);

  const TrainerOptions& options() const { return options_; }

  struct Impl;  // opaque: the device buffers of a training step

 private:
  std::unique_ptr<Impl> impl_;
  TrainerOptions options_;
};

// Fisher-Yates over 0..n-1 with std::mt19937_64 draws (j = gen() % (i + 1)): the same order for
// the same seed on every platform (std::shuffle's algorithm is unspecified).
std::vector<int64_t> seeded_permutation(int64_t n, std::mt19937_64& gen);

}  // namespace elman
