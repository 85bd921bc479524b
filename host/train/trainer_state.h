// detail::TrainerState: what a Trainer holds (its models, the device buffers of a training step,
// the state carried across fit() calls and saved in training checkpoints), and the step
// functions shared by the trainer's files: fit and evaluation (trainer.cpp), one batch
// (trainer_step.cpp), training checkpoints (trainer_checkpoint.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "elman/communicator.h"
#include "elman/loss.h"
#include "elman/safetensors.h"
#include "elman/trainer.h"
#include "host/index_buffer.h"
#include "kernels/train/batch_gather_ops.h"
#include "kernels/train/train_ops.h"

namespace elman::detail {

// A data set on the device, uploaded once: features or token ids; values or class ids.
struct DeviceData {
  Tensor inputs;           // features [N, T * I]
  IndexBuffer input_ids;   // tokens [N, T]
  Tensor targets;          // values [N, target_size]
  IndexBuffer target_ids;  // class ids [N, target_size]
  bool tokens = false, class_targets = false;
  int64_t n = 0, seq_len = 0, target_size = 0;
};

struct TrainerState {
  Embedding* embedding = nullptr;  // null: the inputs go to the RNN as they are (or one-hot)
  RNN* rnn = nullptr;
  Linear* head = nullptr;
  Optimizer* opt = nullptr;
  double base_lr = 0.0;  // the schedule's starting rate (TrainerOptions::lr_schedule)
  Context* ctx = nullptr;
  MSELoss mse;
  CrossEntropyLoss ce;
  std::unique_ptr<GradNormClipper> clipper;
  // Step buffers, sized for a full batch of whole sequences; a chunk or a short batch uses views.
  // Batches are laid out as the RNN wants them: [b, n, ...], or [n, b, ...] when it is not
  // batch_first (then every per-step row, and its target, is in (step, example) order).
  Tensor x;                                  // [B, T, I]: the RNN's input
  Tensor y;                                  // [B, target_size]: gathered values
  IndexBuffer y_ids;                         // [B * target_size]: gathered class ids
  Tensor last, grad_last;                    // [B, D*H]: output[:, -1, :] and its gradient
  Tensor pred, grad_pred;                    // [B, K] or [B*T, K]
  Tensor grad_output;                        // [B, T, D*H]
  Tensor out_buf, hn_buf, gin_buf, gh0_buf;  // storage behind the RNN's results
  Tensor h0c;  // truncated BPTT: the state carried into the next chunk
  RNNCache cache;
  IndexBuffer order;  // the epoch's order of the training set
  // On the device, read back together once per epoch: [0] the epoch's train loss, [1] the
  // validation loss, then the fault slots (see FirstNonFinite): one per gradient tensor, in
  // slot_names order, and one for the train loss.
  Tensor loss_sums;
  std::vector<std::string> slot_names;  // "grad of rnn.weight_ih_l0", ..., "loss"
  std::vector<FirstNonFinite> grad_checks;
  FirstNonFinite loss_check{};

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

  bool time_major() const { return !rnn->options().batch_first; }
  // The flat buffers of every model (the embedding's first, when there is one).
  std::vector<Tensor> parameters() const;
  std::vector<Tensor> grads() const;
};

constexpr int64_t kFirstSlot = 2;  // loss_sums[0..1] are the losses

// Every call's checks of a data set against the models and the options.
void check_data(const char* call, const Dataset& d, const TrainerState& m, const TrainerOptions& o);
DeviceData upload(const Dataset& d, TrainerState& m);
// Sizes every step buffer for batches of up to `B` examples of `d`'s shape.
void size_buffers(TrainerState& m, const TrainerOptions& o, const Dataset& d, int64_t B);

// This rank's local work. Data parallel: an exception is kept for the next agreement (every
// rank must still reach it: a rank that left would leave the others waiting in a collective)
// and the rank's later local work is skipped. One process: just runs it.
template <typename Work>
void local_work(TrainerState& m, Work&& work) {
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

// One batch of `b` examples (order[first, first + b); null order: in turn), gathered on the
// device. With `train`, the backward pass(es) and optimizer step(s) too, counted in `step`: one
// for the batch, or with truncated BPTT one per chunk (see TrainerOptions::bptt). The batch's
// mean loss, times `weight`, is added to loss_sum on the device.
void run_batch(TrainerState& m, const TrainerOptions& o, const DeviceData& dd, const int32_t* order,
               int64_t first, int64_t b, bool train, float weight, Tensor& loss_sum, int64_t* step);

// The training checkpoint's tensors: the model under PyTorch's names, then the optimizer's
// state as "optimizer.<group>.<torch's state name>" (1-D, the flat buffer's layout).
TensorMap training_checkpoint_tensors(TrainerState& m);
void save_training_checkpoint(TrainerState& m, const TrainerOptions& o, const std::string& path,
                              const TensorMap& tensors,
                              const std::map<std::string, std::string>& extra);
// Trainer::load_checkpoint's work: everything checked, then everything restored.
std::map<std::string, std::string> load_training_checkpoint(TrainerState& m,
                                                            const std::string& path);

}  // namespace elman::detail
