// CudnnRnn: cuDNN's RNN descriptors, weight space and calls for one shape (bench/cudnn_rnn.h).
#include "bench/cudnn_rnn.h"

#include <algorithm>

#include "host/param_layout.h"

namespace elman::bench {
namespace {

cudnnRNNDescriptor_t new_rnn_descriptor(const CudnnApi& api) {
  cudnnRNNDescriptor_t d = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateRNNDescriptor(&d));
  return d;
}
cudnnRNNDataDescriptor_t new_data_descriptor(const CudnnApi& api) {
  cudnnRNNDataDescriptor_t d = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateRNNDataDescriptor(&d));
  return d;
}
cudnnTensorDescriptor_t new_tensor_descriptor(const CudnnApi& api) {
  cudnnTensorDescriptor_t d = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateTensorDescriptor(&d));
  return d;
}

// Number of elements a tensor descriptor describes.
int64_t numel_of(const CudnnApi& api, cudnnTensorDescriptor_t d) {
  cudnnDataType_t type;
  int nb = 0, dims[8] = {0}, strides[8] = {0};
  ELMAN_CUDNN_CHECK(api, cudnnGetTensorNdDescriptor(d, 8, &type, &nb, dims, strides));
  int64_t n = 1;
  for (int i = 0; i < nb; ++i) n *= dims[i];
  return n;
}

}  // namespace

bool CudnnRnn::refused(std::string& into, const char* call, cudnnStatus_t st) {
  if (st == CUDNN_STATUS_SUCCESS) return false;
  into = std::string(call) + ": " + api_.cudnnGetErrorString(st);
  return true;
}

CudnnRnn::CudnnRnn(const CudnnApi& api, cudnnHandle_t handle, cudnnDropoutDescriptor_t dropout,
                   cudaStream_t stream, const CudnnRnnSpec& spec)
    : api_(api),
      handle_(handle),
      stream_(stream),
      spec_(spec),
      rnn_(new_rnn_descriptor(api), api.cudnnDestroyRNNDescriptor),
      x_desc_(new_data_descriptor(api), api.cudnnDestroyRNNDataDescriptor),
      y_desc_(new_data_descriptor(api), api.cudnnDestroyRNNDataDescriptor),
      h_desc_(new_tensor_descriptor(api), api.cudnnDestroyTensorDescriptor) {
  const RNNOptions& o = spec.options;
  const int I = int(o.input_size), H = int(o.hidden_size), L = int(o.num_layers);
  const int D = int(o.num_directions()), B = spec.batch, T = spec.seq_len;
  const bool varlen = !spec.lengths.empty();
  const cudnnMathType_t math = spec.tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  if (refused(refusal_, "cudnnSetRNNDescriptor_v8",
              api_.cudnnSetRNNDescriptor_v8(
                  rnn_.get(), spec.algo, CUDNN_RNN_TANH, CUDNN_RNN_DOUBLE_BIAS,
                  D == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
                  CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, I, H, H, L, dropout,
                  varlen ? CUDNN_RNN_PADDED_IO_ENABLED : CUDNN_RNN_PADDED_IO_DISABLED)))
    return;
  if (spec.algo == CUDNN_RNN_ALGO_PERSIST_DYNAMIC &&
      refused(refusal_, "cudnnBuildRNNDynamic", api_.cudnnBuildRNNDynamic(handle_, rnn_.get(), B)))
    return;

  // Sequence data: time-major [T, B, vector]. Full length: elman's layout is cuDNN's
  // SEQ_MAJOR_PACKED. Varlen: SEQ_MAJOR_UNPACKED, the same padded time-major memory;
  // cudnn_adv.h requires sorted lengths only for SEQ_MAJOR_PACKED, so the user's unsorted lengths
  // are passed as they are (an algorithm that refuses them is recorded as refusing).
  std::vector<int32_t> seq_lengths = varlen ? spec.lengths : std::vector<int32_t>(size_t(B), T);
  const cudnnRNNDataLayout_t layout =
      varlen ? CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED : CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED;
  void* fill = varlen ? &padding_fill_ : nullptr;
  if (refused(refusal_, "cudnnSetRNNDataDescriptor(x)",
              api_.cudnnSetRNNDataDescriptor(x_desc_.get(), CUDNN_DATA_FLOAT, layout, T, B, I,
                                             seq_lengths.data(), fill)) ||
      refused(refusal_, "cudnnSetRNNDataDescriptor(y)",
              api_.cudnnSetRNNDataDescriptor(y_desc_.get(), CUDNN_DATA_FLOAT, layout, T, B, D * H,
                                             seq_lengths.data(), fill)))
    return;
  const int h_dims[3] = {L * D, B, H}, h_strides[3] = {B * H, H, 1};
  ELMAN_CUDNN_CHECK(
      api_, cudnnSetTensorNdDescriptor(h_desc_.get(), CUDNN_DATA_FLOAT, 3, h_dims, h_strides));
  // The device copy of the lengths, which the calls read: ordered on cuDNN's stream, and the
  // host vector kept until it has been read.
  lengths_ = DeviceBuffer(seq_lengths.size() * sizeof(int32_t));
  ELMAN_CUDA_CHECK(cudaMemcpyAsync(lengths_.get(), seq_lengths.data(), lengths_.bytes(),
                                   cudaMemcpyHostToDevice, stream_));
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream_));

  size_t ws_inf = 0, rs_inf = 0, ws_train = 0, rs_train = 0;
  if (refused(refusal_, "cudnnGetRNNWeightSpaceSize",
              api_.cudnnGetRNNWeightSpaceSize(handle_, rnn_.get(), &w_bytes_)) ||
      refused(refusal_, "cudnnGetRNNTempSpaceSizes(inference)",
              api_.cudnnGetRNNTempSpaceSizes(handle_, rnn_.get(), CUDNN_FWD_MODE_INFERENCE,
                                             x_desc_.get(), &ws_inf, &rs_inf)))
    return;
  refused(training_refusal_, "cudnnGetRNNTempSpaceSizes(training)",
          api_.cudnnGetRNNTempSpaceSizes(handle_, rnn_.get(), CUDNN_FWD_MODE_TRAINING,
                                         x_desc_.get(), &ws_train, &rs_train));
  const bool trains = training_refusal_.empty();
  w_ = DeviceBuffer(w_bytes_);
  work_ = DeviceBuffer(trains ? std::max(ws_inf, ws_train) : ws_inf);
  if (trains) {
    dw_ = DeviceBuffer(w_bytes_);
    reserve_ = DeviceBuffer(rs_train);
  }

  // Where each matrix and bias lives in the weight space, as a checked copy plan.
  CudnnOwned<cudnnTensorDescriptor_t> m_desc(new_tensor_descriptor(api_),
                                             api_.cudnnDestroyTensorDescriptor);
  CudnnOwned<cudnnTensorDescriptor_t> b_desc(new_tensor_descriptor(api_),
                                             api_.cudnnDestroyTensorDescriptor);
  std::vector<CudnnParamSlot> slots;
  auto offset = [&](void* addr) {
    return int64_t((static_cast<char*>(addr) - static_cast<char*>(w_.get())) / 4);
  };
  for (int p = 0; p < L * D; ++p)
    for (int lin = 0; lin < 2; ++lin) {
      void* m_addr = nullptr;
      void* b_addr = nullptr;
      ELMAN_CUDNN_CHECK(api_,
                        cudnnGetRNNWeightParams(handle_, rnn_.get(), p, w_bytes_, w_.get(), lin,
                                                m_desc.get(), &m_addr, b_desc.get(), &b_addr));
      slots.push_back({p, lin, false, offset(m_addr), numel_of(api_, m_desc.get())});
      slots.push_back({p, lin, true, offset(b_addr), numel_of(api_, b_desc.get())});
    }
  plan_ = plan_cudnn_weight_copy(o, slots, int64_t(w_bytes_ / 4));
}

void CudnnRnn::set_weights(const Tensor& elman_params) {
  const std::vector<float> flat = elman_params.to_vector();
  std::vector<float> packed(w_bytes_ / 4, 0.0f);
  copy_to_cudnn(plan_, flat.data(), packed.data());
  ELMAN_CUDA_CHECK(
      cudaMemcpyAsync(w_.get(), packed.data(), w_bytes_, cudaMemcpyHostToDevice, stream_));
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream_));  // `packed` is read before it goes
}

cudnnStatus_t CudnnRnn::forward(bool training, const float* x, const float* hx, float* y,
                                float* hy) {
  const int32_t* seq = static_cast<const int32_t*>(lengths_.get());
  return api_.cudnnRNNForward(handle_, rnn_.get(),
                              training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE, seq,
                              x_desc_.get(), x, y_desc_.get(), y, h_desc_.get(), hx, hy, nullptr,
                              nullptr, nullptr, w_bytes_, w_.get(), work_.bytes(), work_.get(),
                              training ? reserve_.bytes() : 0, training ? reserve_.get() : nullptr);
}

cudnnStatus_t CudnnRnn::backward(const float* x, const float* hx, const float* y, const float* dy,
                                 const float* dhy, float* dx, float* dhx) {
  const int32_t* seq = static_cast<const int32_t*>(lengths_.get());
  const cudnnStatus_t st = api_.cudnnRNNBackwardData_v8(
      handle_, rnn_.get(), seq, y_desc_.get(), y, dy, x_desc_.get(), dx, h_desc_.get(), hx, dhy,
      dhx, nullptr, nullptr, nullptr, nullptr, w_bytes_, w_.get(), work_.bytes(), work_.get(),
      reserve_.bytes(), reserve_.get());
  if (st != CUDNN_STATUS_SUCCESS) return st;
  // cuDNN 9 only accumulates weight gradients (CUDNN_WGRAD_MODE_ADD), as elman does.
  return api_.cudnnRNNBackwardWeights_v8(handle_, rnn_.get(), CUDNN_WGRAD_MODE_ADD, seq,
                                         x_desc_.get(), x, h_desc_.get(), hx, y_desc_.get(), y,
                                         w_bytes_, dw_.get(), work_.bytes(), work_.get(),
                                         reserve_.bytes(), reserve_.get());
}

void CudnnRnn::zero_weight_grads() {
  ELMAN_CUDA_CHECK(cudaMemsetAsync(dw_.get(), 0, dw_.bytes(), stream_));
}

std::vector<float> CudnnRnn::weight_grads() {
  std::vector<float> packed(dw_.bytes() / 4, 0.0f);
  ELMAN_CUDA_CHECK(
      cudaMemcpyAsync(packed.data(), dw_.get(), dw_.bytes(), cudaMemcpyDeviceToHost, stream_));
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::vector<float> flat(size_t(detail::make_param_layout(spec_.options).total), 0.0f);
  copy_from_cudnn(plan_, packed.data(), flat.data());
  return flat;
}

}  // namespace elman::bench
