// The weight copy between elman's flat parameters (PyTorch's order) and cuDNN's weight space, as
// a plan computed on the host from the offsets cuDNN reports, so it is tested without a GPU.
#pragma once

#include <cstdint>
#include <vector>

#include "elman/rnn.h"

namespace elman::bench {

// One matrix or bias as cudnnGetRNNWeightParams reports it: pseudo_layer = layer * D + direction;
// lin_id 0 = the input weight (W_ih) or its bias, 1 = the recurrent weight (W_hh) or its bias
// (CUDNN_RNN_TANH); offset and count in floats from the start of the weight space.
struct CudnnParamSlot {
  int pseudo_layer = 0;
  int lin_id = 0;
  bool is_bias = false;
  int64_t offset = 0;
  int64_t count = 0;
};

// Copy `count` floats from elman's flat buffer at `elman` to cuDNN's at `cudnn`.
struct CopySpan {
  int64_t elman = 0;
  int64_t cudnn = 0;
  int64_t count = 0;
};

// Checks that `slots` names every (pseudo_layer, lin_id, matrix|bias) of `options` exactly once,
// each with the count elman's tensor has ([H, I_l], [H, H], [H], [H]; rows are copied as they are:
// cuDNN stores each matrix row-major like PyTorch), inside `weight_space_floats` and
// non-overlapping; throws elman::Error naming the first violation. Needs options.bias.
std::vector<CopySpan> plan_cudnn_weight_copy(const RNNOptions& options,
                                             const std::vector<CudnnParamSlot>& slots,
                                             int64_t weight_space_floats);
// elman -> cuDNN (weights) and cuDNN -> elman (weight gradients), on host buffers.
void copy_to_cudnn(const std::vector<CopySpan>& plan, const float* elman, float* cudnn);
void copy_from_cudnn(const std::vector<CopySpan>& plan, const float* cudnn, float* elman);

}  // namespace elman::bench
