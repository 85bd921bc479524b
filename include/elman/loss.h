// Losses fused with their gradients: mean squared error and softmax cross-entropy. Each adds the
// batch's mean loss to a scalar that stays on the device, so a training loop reads it once.
#pragma once

#include <cstdint>

#include "elman/context.h"
#include "elman/index_tensor.h"
#include "elman/tensor.h"

namespace elman {

namespace detail {
struct LossAccess;  // the trainer's way to the id-pointer entry (host/train/loss_access.h)
}  // namespace detail

// torch.nn.MSELoss (reduction='mean'): loss = mean((pred - target)^2) over all elements.
class MSELoss {
 public:
  // pred and target: the same shape, on ctx's device. Writes grad_pred = d loss / d pred (same
  // in-place rule as RNN::forward_into) and adds `weight * loss` to loss_sum[0] (a [1] tensor
  // on the device) when loss_sum is not null. Reads nothing back: no synchronisation.
  void forward_backward(Context& ctx, const Tensor& pred, const Tensor& target, Tensor& grad_pred,
                        Tensor* loss_sum, float weight = 1.0f);
  // The loss value, read back to the host (synchronises: for tests and evaluation).
  double value(Context& ctx, const Tensor& pred, const Tensor& target);

 private:
  Tensor sq_, ones_, grad_scratch_, sum_scratch_;
};

// torch.nn.CrossEntropyLoss (reduction='mean') over logits [N, C] and class ids [N] (an
// IndexTensor, like torch's LongTensor targets): loss = mean_r (logsumexp(z_r) - z_r[t_r]), in
// natural-log units. Softmax and log are fused and shifted by each row's maximum, so large
// logits do not overflow.
class CrossEntropyLoss {
 public:
  // A target outside 0..C-1 makes the loss NaN (the trainer stops on it) and its gradient row 0.
  void forward_backward(Context& ctx, const Tensor& logits, const IndexTensor& targets,
                        Tensor& grad_logits, Tensor* loss_sum, float weight = 1.0f);
  double value(Context& ctx, const Tensor& logits, const IndexTensor& targets);

 private:
  friend struct detail::LossAccess;
  // The same over `rows` class ids already on ctx's device (the trainer's gathered batch).
  void forward_backward_ids(Context& ctx, const Tensor& logits, const int32_t* targets,
                            Tensor& grad_logits, Tensor* loss_sum, float weight);
  Tensor row_loss_, ones_, grad_scratch_, sum_scratch_;
};

}  // namespace elman
