// detail::LossAccess: the trainer's entry to the cross-entropy over class ids it has already
// gathered on the device (an int32 buffer, not a user's IndexTensor).
#pragma once

#include <cstdint>

#include "elman/loss.h"

namespace elman::detail {

struct LossAccess {
  static void cross_entropy(CrossEntropyLoss& loss, Context& ctx, const Tensor& logits,
                            const int32_t* targets, Tensor& grad_logits, Tensor* loss_sum,
                            float weight) {
    loss.forward_backward_ids(ctx, logits, targets, grad_logits, loss_sum, weight);
  }
};

}  // namespace elman::detail
