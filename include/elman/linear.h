// elman::Linear: torch.nn.Linear's output head (names `weight` [out, in] and `bias` [out], its
// default initialisation), forward and backward over the rows of a [N, in] input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elman/context.h"
#include "elman/tensor.h"

namespace elman {

class Linear {
 public:
  // Parameters on ctx's device, drawn like PyTorch's reset_parameters (kaiming_uniform with
  // a = sqrt(5)): weight and bias both from U(-1/sqrt(in), 1/sqrt(in)), seeded.
  Linear(Context& ctx, int64_t in_features, int64_t out_features, uint64_t seed = 0);
  Linear(Linear&&) noexcept = default;
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Context& context() const { return *ctx_; }

  // "weight", "bias", as nn.Linear's state_dict names them.
  const std::vector<std::string>& parameter_names() const { return names_; }
  Tensor& parameter(const std::string& name);
  Tensor& grad(const std::string& name);
  Tensor& weight() { return weight_; }  // [out, in]
  Tensor& bias() { return bias_; }      // [out]
  // weight then bias in one contiguous buffer, and their gradients likewise.
  Tensor& flat_parameters() { return flat_params_; }
  Tensor& flat_grads() { return flat_grads_; }
  void zero_grad();

  // y = x W^T + b. x: [N, in] (any leading shape whose last dimension is `in`); y: [N, out],
  // written in place when it has that shape on this device, else replaced.
  void forward_into(const Tensor& x, Tensor& y);
  Tensor forward(const Tensor& x);
  // Accumulates dW += grad_y^T x and db += column sums of grad_y (like PyTorch's .grad), and
  // writes grad_x = grad_y W when grad_x is not null (same in-place rule as forward_into).
  void backward_into(const Tensor& x, const Tensor& grad_y, Tensor* grad_x);

 private:
  Context* ctx_;
  int64_t in_, out_;
  std::vector<std::string> names_;
  Tensor flat_params_, flat_grads_;
  Tensor weight_, bias_, weight_grad_, bias_grad_;
  Tensor ones_;  // [>= N] of 1.0: the bias gradient as a GEMV
};

}  // namespace elman
