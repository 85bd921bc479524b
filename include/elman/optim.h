// Optimizers with torch.optim's defaults and update rules (SGD with momentum, Adam, AdamW) and
// global gradient-norm clipping. Each runs as device ops over flat parameter buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "elman/context.h"
#include "elman/tensor.h"

namespace elman {

// The base of every optimizer: a list of (parameters, gradients) flat buffer pairs, e.g. the
// RNN's flat_parameters()/flat_grads() and the head's. step() queues the update of every buffer
// on the device and reads nothing back.
class Optimizer {
 public:
  // Keeps its own copy of the context handle.
  explicit Optimizer(const Context& ctx, float lr);
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Registers one buffer pair (same shape, on the context's device). The optimizer's state for
  // it (momentum, moments) is allocated here, zero, so step() allocates nothing.
  void add_parameters(const Tensor& params, const Tensor& grads);
  // One update of every registered buffer; elman::Error when none was registered (like
  // torch.optim's "optimizer got an empty parameter list").
  void step();
  void zero_grad();  // sets every registered gradient to zero (on the device)
  // Whether `params` (the same elements: Tensor::is_same) is one of the registered buffers.
  bool holds(const Tensor& params) const;
  int64_t step_count() const { return steps_; }
  const Context& context() const { return ctx_; }
  float learning_rate() const { return lr_; }
  void set_learning_rate(float lr);

  // The optimizer's state, for training checkpoints (Trainer::save_checkpoint): its kind
  // ("sgd", "adam", "adamw"), torch's names for its per-parameter state ("momentum_buffer";
  // "exp_avg", "exp_avg_sq"), and for each registered buffer pair (in add_parameters order)
  // those state tensors, on the device, written in place by a restore.
  virtual const char* kind() const = 0;
  std::vector<const char*> state_names() const;
  int64_t group_count() const { return static_cast<int64_t>(groups_.size()); }
  Tensor& state(int64_t group, int k);
  // Sets the step count (a resumed run continues Adam's bias corrections and SGD's first-step
  // rule where they were); must be >= 0.
  void set_step_count(int64_t steps);

 protected:
  struct Group {
    Tensor params, grads;
    Tensor state[2];  // optimizer-specific (momentum buffer; Adam's m and v)
  };
  virtual int state_count() const = 0;
  virtual const char* state_name(int k) const = 0;
  virtual void update(Group& group) = 0;  // step_count() is already the new step's number

  Context ctx_;
  float lr_;

 private:
  std::vector<Group> groups_;
  int64_t steps_ = 0;
};

// torch.optim.SGD: lr 1e-3, momentum 0, dampening 0, weight_decay 0, nesterov off.
struct SGDOptions {
  float lr = 1e-3f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;  // requires momentum > 0 and dampening 0, as in torch
};

class SGD final : public Optimizer {
 public:
  SGD(const Context& ctx, const SGDOptions& options = {});
  const SGDOptions& options() const { return options_; }
  const char* kind() const override { return "sgd"; }

 private:
  int state_count() const override { return options_.momentum != 0.0f ? 1 : 0; }
  const char* state_name(int) const override { return "momentum_buffer"; }
  void update(Group& group) override;
  SGDOptions options_;
};

// torch.optim.Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0 (L2, added to the
// gradient). torch.optim.AdamW: the same with weight_decay 1e-2, decoupled (p *= 1 - lr * wd).
struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2f; }
};

class Adam : public Optimizer {
 public:
  Adam(const Context& ctx, const AdamOptions& options = {});
  const AdamOptions& options() const { return options_; }
  const char* kind() const override { return decoupled_ ? "adamw" : "adam"; }

 protected:
  Adam(const Context& ctx, const AdamOptions& options, bool decoupled);

 private:
  int state_count() const override { return 2; }
  const char* state_name(int k) const override { return k == 0 ? "exp_avg" : "exp_avg_sq"; }
  void update(Group& group) override;
  AdamOptions options_;
  bool decoupled_;
};

class AdamW final : public Adam {
 public:
  AdamW(const Context& ctx, const AdamWOptions& options = {});
};

// torch.nn.utils.clip_grad_norm_ over a set of gradient buffers: the total 2-norm over all of
// them; when max_norm / (norm + 1e-6) < 1 every gradient is scaled by it. The norm is computed
// into a device scalar (GEMMs) and the scale read from it by the scaling op, so clip() never
// synchronises.
class GradNormClipper {
 public:
  GradNormClipper(const Context& ctx, float max_norm);
  void clip(const std::vector<Tensor>& grads);
  // The total norm (before scaling) seen by the last clip(); reads it back (synchronises).
  double last_total_norm();
  float max_norm() const { return max_norm_; }

 private:
  Context ctx_;
  float max_norm_;
  Tensor norm_sq_;  // [1] on the device
};

// One-shot clip_grad_norm_: clips and returns the total norm (synchronises, like torch's .item()).
double clip_grad_norm(Context& ctx, const std::vector<Tensor>& grads, float max_norm);

}  // namespace elman
