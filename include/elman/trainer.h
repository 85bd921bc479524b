// elman::Trainer: mini-batch training of an RNN + Linear head (PyTorch's RNN -> fc model) with a
// seeded shuffle, epochs, a validation set, truncated BPTT, numerical-fault checks, resumable
// training checkpoints, and the loss read back once per epoch, not per step.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "elman/communicator.h"
#include "elman/data.h"
#include "elman/linear.h"
#include "elman/lr_schedule.h"
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
  // Truncated BPTT. 0, or any k >= the sequence length, backpropagates through whole sequences
  // (bitwise the same run). 1 <= k < T walks each batch in chunks of k steps (the last one
  // shorter), carrying the hidden state forward detached: chunk c starts from a device copy of
  // chunk c-1's h_n and no gradient crosses the boundary. The optimizer steps once per chunk,
  // as PyTorch's TBPTT loops do (loss.backward(); opt.step(); h = h.detach()):
  //   kEveryStep: each chunk's loss is the mean over its own steps, one step per chunk;
  //   kLastStep: only the last chunk has a loss, so the earlier chunks run forward only (they
  //   warm the state up) and the optimizer steps once, after the last chunk's backward.
  // The epoch's loss stays the mean over the whole sequences.
  int64_t bptt = 0;
  // When not empty, fit() writes a training checkpoint (Trainer::save_checkpoint) to this path,
  // atomically, after every epoch whose losses and gradients were all finite (one read-back of
  // the parameters and optimizer state per epoch). A write that fails (full disk, read-only
  // folder) throws elman::Error out of fit(); the previous file is then intact.
  std::string checkpoint_path;
  // Extra string metadata written into every such checkpoint (e.g. what defines the data and
  // the model, so that a resume can check it continues the same run).
  std::map<std::string, std::string> checkpoint_metadata;
  // The learning rate of each epoch: lr_schedule.rate_at(base, epoch - 1) for epochs counted
  // from 1, where base is the optimizer's rate when the Trainer is built (or the one a loaded
  // training checkpoint records), as PyTorch's scheduler.step() after every epoch gives it.
  // Constant by default: the optimizer's rate is then left as it is.
  LRSchedule lr_schedule;
  // When set, called by fit() after every training batch is queued with the epoch (1-based),
  // the sequences of the epoch done so far and the epoch's total: for a progress display. It
  // reads nothing from the device (the loss is read once per epoch) and must not call the
  // trainer.
  std::function<void(int64_t epoch, int64_t done, int64_t total)> on_batch;
  // Data-parallel training (what PyTorch's DistributedDataParallel does): the ranks of this
  // communicator train one model together, each on its shard of every batch (see Trainer).
  // Not owned; it must outlive the trainer. null (the default): one process, no exchange.
  Communicator* communicator = nullptr;
  // Test-only fault injection for data-parallel runs: on rank `rank`, at optimizer step `step`
  // (counted like Optimizer::step_count, from 1, over resumes), this rank's local work throws
  // elman::Error, or with `non_finite` its gradients become NaN before the exchange. Off while
  // rank < 0.
  struct InjectedFault {
    int rank = -1;
    int64_t step = 0;
    bool non_finite = false;
  };
  InjectedFault inject_fault;
};

struct EpochResult {
  int64_t epoch = 0;        // 1-based
  double train_loss = 0.0;  // mean over the epoch's examples (per element / per step)
  double val_loss = 0.0;    // NaN without a validation set
  double seconds = 0.0;
  double sequences_per_second = 0.0;
};

struct FitResult {
  std::vector<EpochResult> epochs;  // the good epochs (a stopped epoch is not listed)
  bool stopped = false;             // a non-finite loss or gradient stopped training early
  std::string message;              // why, when stopped: epoch, step, tensor, last checkpoint
  int64_t fault_epoch = 0;          // when stopped: the epoch (1-based, counted over resumes)
  int64_t fault_step = 0;           // and the optimizer step within it (1-based; 0: validation)
  std::string fault_tensor;         // "loss", "grad of rnn.weight_hh_l0", "validation loss", ...
  int fault_rank = 0;               // data parallel: the rank whose gradient or loss it was
};

// The model is `rnn` (batch_first) followed by `head` on its output; the optimizer must hold
// both models' flat buffers. Data sets follow elman::Dataset's layout for the head and loss:
// kLastStep + kMSE: targets [N, K]; kEveryStep + kMSE: [N, T * K]; kCrossEntropy: class ids
// [N, 1] (last step) or [N, T] (every step).
//
// One training step, all queued on the device with no read-back: gather the batch from the
// uploaded data set by the epoch's order, forward_train, head, fused loss + gradient (its mean
// added to a device scalar), head and RNN backward, the non-finite checks, optional clipping,
// optimizer step.
// Per epoch the host uploads the shuffled order once and reads the two loss sums once.
//
// Data-parallel (TrainerOptions::communicator of size P > 1; every rank builds the same model,
// optimizer, options and data set and calls the same methods): fit() first checks that the
// ranks agree on the data sizes, options and state (elman::Error naming what differs), then
// broadcasts rank 0's parameters and optimizer state. Every rank draws the same shuffled order;
// of each global batch of batch_size examples rank r takes its contiguous shard (shard_of),
// runs forward and backward on it and weights its mean gradient by shard / batch, so the
// all-reduced sum is the one-process gradient of the global batch even for unequal shards.
// Clipping then sees the global norm; the optimizer step is the same on every rank. Losses and
// fault flags are reduced across ranks once per epoch; the validation set is sharded too. Only
// rank 0 writes checkpoints. A rank whose local work throws (or whose checkpoint write fails)
// does not leave the others waiting: before every gradient exchange the ranks agree on whether
// one failed (agree_on_failure, one small host all-reduce per optimizer step), and if one did
// every rank throws the same CollectiveError naming it. Non-finite gradients are checked on
// each rank before the exchange, so the fault message names the rank they came from.
// evaluate() and predict() stay local: each rank computes the whole data set.
class Trainer {
 public:
  Trainer(RNN& rnn, Linear& head, Optimizer& optimizer, const TrainerOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains for options.epochs more epochs, numbered after epochs_done() (so a resumed trainer
  // goes on counting); `val` may be null. `on_epoch` (may be empty) is called after every good
  // epoch (data parallel: on every rank, with the reduced losses; if it throws on one rank,
  // every rank throws CollectiveError). The shuffle's generator is seeded once, at construction,
  // and carries over calls.
  //
  // Numerical faults: after every backward a device op records, per gradient tensor and for
  // the loss, the first step at which it was NaN or infinite; those flags are read with the
  // epoch's loss (no extra synchronisation). A fault stops training: FitResult::stopped, with
  // a message naming the epoch, the step, the tensor and the last good checkpoint. The model in
  // memory then holds the faulty values; the checkpoint on disk is the last good epoch's.
  FitResult fit(const Dataset& train, const Dataset* val,
                const std::function<void(const EpochResult&)>& on_epoch = {});
  // The mean loss over a data set (inference forward; synchronises once at the end).
  double evaluate(const Dataset& data);
  // The head's outputs for every example, on the host: [N, K] (last step) or [N, T, K].
  std::vector<float> predict(const Dataset& data);

  const TrainerOptions& options() const { return options_; }
  int64_t epochs_done() const;

  // A training checkpoint: one safetensors file holding the model under PyTorch's names
  // ("rnn.weight_ih_l0", ..., "fc.weight", "fc.bias", as save_checkpoint writes them), the
  // optimizer's state as "optimizer.<g>.<name>" (g: the add_parameters index, name torch's:
  // momentum_buffer, exp_avg, exp_avg_sq; each 1-D, the flat buffer's layout), and string
  // metadata: elman_training_checkpoint "1", epoch, optimizer (kind), optimizer_steps,
  // learning_rate, base_learning_rate, lr_schedule (LRSchedule::str()), shuffle_rng (the
  // std::mt19937_64 state as its operator<< writes it), seed, batch_size, bptt, plus `metadata`.
  // Atomic (save_safetensors). Refuses, with elman::Error naming the tensor, to write a NaN or an
  // infinity: the previous file stays as it was. Reads the parameters and state back from the
  // device (synchronises). Data-parallel: only rank 0 writes ("ranks" in the metadata records P);
  // the others return.
  void save_checkpoint(const std::string& path,
                       const std::map<std::string, std::string>& metadata = {});
  // Restores everything save_checkpoint wrote (weights, optimizer state and step count, epoch,
  // shuffle generator) so that fit() continues exactly as the uninterrupted run would have.
  // All-or-nothing: a missing, extra, misshapen or non-finite tensor, another optimizer kind or
  // a bad metadata field throws elman::Error naming the file and the problem, and nothing is
  // changed. The base learning rate is restored (the schedule continues where it was); the
  // recorded seed, batch_size, bptt and lr_schedule are informational: this trainer's own
  // options apply from here on (the same options give the uninterrupted run).
  // A checkpoint written by a run on another number of ranks ("ranks", 1 when absent) is
  // refused, naming both counts: the shards, and so the sums, would differ. Data-parallel, every
  // rank loads the same file. Returns the file's metadata.
  std::map<std::string, std::string> load_checkpoint(const std::string& path);

  struct Impl;  // opaque: the device buffers of a training step

 private:
  std::unique_ptr<Impl> impl_;
  TrainerOptions options_;
};

// Fisher-Yates over 0..n-1 with std::mt19937_64 draws (j = gen() % (i + 1)): the same order for
// the same seed on every platform (std::shuffle's algorithm is unspecified).
std::vector<int64_t> seeded_permutation(int64_t n, std::mt19937_64& gen);

}  // namespace elman
