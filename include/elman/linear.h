// elman::Linear: torch.nn.Linear's output head (names `weight` [out, in] and `bias` [out], its
// default initialisation), forward and backward over the rows of a [N, in] input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elman/context.h"
#include "elman/module.h"
#include "elman/tensor.h"

namespace elman {

class Linear : public Module {
 public:
  // Parameters on ctx's device, drawn like PyTorch's reset_parameters (kaiming_uniform with
  // a = sqrt(5)): weight and bias both from U(-1/sqrt(in), 1/sqrt(in)), seeded. The layer keeps
  // its own copy of the context handle. Sizes that cannot be allocated throw elman::Error.
  Linear(const Context& ctx, int64_t in_features, int64_t out_features, uint64_t seed = 0);
  // A moved-from Linear throws elman::Error from every call that computes.
  Linear(Linear&& other) noexcept = default;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // Parameters (Module): "weight", "bias", as nn.Linear's state_dict names them, weight then
  // bias in the flat buffers.
  const Tensor& weight() const { return parameter_at("Linear::weight", 0); }  // [out, in]
  const Tensor& bias() const { return parameter_at("Linear::bias", 1); }      // [out]

  // y = x W^T + b. x: [N, in] (any leading shape whose last dimension is `in`); y: [N, out],
  // written in place when it has that shape on this device, else replaced. A y written in
  // place may not share memory with x or the layer's parameters (elman::Error).
  void forward_into(const Tensor& x, Tensor& y);
  Tensor forward(const Tensor& x);
  // Accumulates dW += grad_y^T x and db += column sums of grad_y (like PyTorch's .grad), and
  // writes grad_x = grad_y W when grad_x is not null (same in-place and aliasing rule as
  // forward_into: grad_x may not share memory with x, grad_y or the parameters).
  void backward_into(const Tensor& x, const Tensor& grad_y, Tensor* grad_x);

 private:
  int64_t in_, out_;
  Tensor ones_;  // [>= N] of 1.0: the bias gradient as a GEMV
};

}  // namespace elman
