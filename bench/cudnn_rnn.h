// cuDNN's Elman RNN as elman-bench's GPU peer: one shape and one algorithm set up (descriptors,
// the weight space holding elman's weights, workspaces), then forward and backward calls on the
// stream of the cuDNN handle. Used by the full-sequence rows and the streaming rows alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/cuda_owners.h"
#include "bench/cudnn_api.h"
#include "bench/cudnn_layout.h"
#include "elman/elman.h"

namespace elman::bench {

// What to set up: CUDNN_RNN_TANH with both biases, FP32 data, time-major [seq_len, batch, .].
struct CudnnRnnSpec {
  cudnnRNNAlgo_t algo = CUDNN_RNN_ALGO_STANDARD;
  bool tf32 = false;   // CUDNN_TENSOR_OP_MATH; else CUDNN_FMA_MATH (FP32, as elman runs)
  RNNOptions options;  // input_size, hidden_size, num_layers, bidirectional (bias needed)
  int batch = 0;
  int seq_len = 0;  // 1 for a streaming step
  // Per-sequence lengths in the user's order: a varlen batch (SEQ_MAJOR_UNPACKED, padded I/O,
  // outputs past each end filled with 0). Empty: every sequence runs seq_len steps
  // (SEQ_MAJOR_PACKED, padded I/O off, which every algorithm takes).
  std::vector<int32_t> lengths;
};

class CudnnRnn {
 public:
  // Sets cuDNN up for `spec` on `handle`, whose stream is `stream`. An algorithm that does not
  // take the shape is not an error: refusal() names the call that refused it. Errors of the
  // setup itself (allocation, descriptor creation) throw elman::Error.
  CudnnRnn(const CudnnApi& api, cudnnHandle_t handle, cudnnDropoutDescriptor_t dropout,
           cudaStream_t stream, const CudnnRnnSpec& spec);
  CudnnRnn(const CudnnRnn&) = delete;
  CudnnRnn& operator=(const CudnnRnn&) = delete;

  // "" when the inference forward is set up; else "call: status" of the call that refused.
  const std::string& refusal() const { return refusal_; }
  // "" when training (forward, backward data and weights) is set up too; else why not.
  const std::string& training_refusal() const { return training_refusal_; }

  // elman's flat parameters (PyTorch's order) into cuDNN's weight space, ordered on the stream.
  void set_weights(const Tensor& elman_params);

  // Queued on the stream. x [seq_len, batch, I], hx/hy [L*D, batch, H], y [seq_len, batch, D*H].
  cudnnStatus_t forward(bool training, const float* x, const float* hx, float* y, float* hy);
  // Backward data, then weights: the weight gradients accumulate (CUDNN_WGRAD_MODE_ADD, as
  // elman's do) into a gradient space that zero_weight_grads() clears. After forward(true).
  cudnnStatus_t backward(const float* x, const float* hx, const float* y, const float* dy,
                         const float* dhy, float* dx, float* dhx);
  void zero_weight_grads();
  // The weight gradients in elman's flat order (synchronises the stream).
  std::vector<float> weight_grads();

 private:
  // Records `call: status` into `into` and returns true when `st` is not success.
  bool refused(std::string& into, const char* call, cudnnStatus_t st);

  const CudnnApi& api_;
  cudnnHandle_t handle_;
  cudaStream_t stream_;
  CudnnRnnSpec spec_;
  CudnnOwned<cudnnRNNDescriptor_t> rnn_;
  CudnnOwned<cudnnRNNDataDescriptor_t> x_desc_, y_desc_;
  CudnnOwned<cudnnTensorDescriptor_t> h_desc_;
  DeviceBuffer lengths_, w_, dw_, work_, reserve_;
  size_t w_bytes_ = 0;
  std::vector<CopySpan> plan_;  // elman's flat parameters <-> the weight space
  float padding_fill_ = 0.0f;   // outputs past each end are zero, as in PyTorch and elman
  std::string refusal_, training_refusal_;
};

}  // namespace elman::bench
