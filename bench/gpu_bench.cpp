// The GPU side of elman-bench: elman's CUDA backend against every cuDNN RNN algorithm that accepts
// the shape, same weights and inputs, agreement checked before anything is timed (DESIGN.md §5).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>

#include "bench/bench_config.h"
#include "bench/cudnn_api.h"
#include "bench/cudnn_layout.h"
#include "bench/varlen.h"
#include "elman/elman.h"
#include "host/backend.h"
#include "kernels/cuda_check.cuh"

namespace elman::bench {
namespace {

// ---- RAII owners --------------------------------------------------------------------------

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes) ELMAN_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  float* f() const { return static_cast<float*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class Stream {
 public:
  Stream() { ELMAN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// A cuDNN handle or descriptor with the destroy function of its kind.
template <typename T>
class CudnnOwned {
 public:
  using Destroy = cudnnStatus_t (*)(T);
  CudnnOwned(T h, Destroy d) : h_(h), destroy_(d) {}
  ~CudnnOwned() {
    if (h_) destroy_(h_);
  }
  CudnnOwned(const CudnnOwned&) = delete;
  CudnnOwned& operator=(const CudnnOwned&) = delete;
  T get() const { return h_; }

 private:
  T h_;
  Destroy destroy_;
};

// Start/stop event pairs for every timed run, created before any timing.
class EventTimer {
 public:
  explicit EventTimer(int runs) : start_(size_t(runs)), stop_(size_t(runs)) {
    for (int i = 0; i < runs; ++i) {
      ELMAN_CUDA_CHECK(cudaEventCreate(&start_[size_t(i)]));
      ELMAN_CUDA_CHECK(cudaEventCreate(&stop_[size_t(i)]));
    }
  }
  ~EventTimer() {
    for (size_t i = 0; i < start_.size(); ++i) {
      if (start_[i]) cudaEventDestroy(start_[i]);
      if (stop_[i]) cudaEventDestroy(stop_[i]);
    }
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Runs setup(i) untimed and body(i) timed for i = 0 .. warmup + runs - 1 (the first `warmup`
  // untimed too), all queued on `stream`; one synchronisation at the end; per-run ms.
  template <typename Setup, typename Body>
  Summary time(cudaStream_t stream, int warmup, Setup&& setup, Body&& body) {
    const int runs = static_cast<int>(start_.size());
    for (int i = 0; i < warmup + runs; ++i) {
      setup(i);
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(start_[size_t(i - warmup)], stream));
      body(i);
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(stop_[size_t(i - warmup)], stream));
    }
    ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<double> ms(size_t(runs), 0.0);
    for (size_t i = 0; i < ms.size(); ++i) {
      float t = 0;
      ELMAN_CUDA_CHECK(cudaEventElapsedTime(&t, start_[i], stop_[i]));
      ms[i] = t;
    }
    return summarize(ms);
  }

  // As time(), but the stream is synchronised after every run, so each run starts on an idle
  // GPU (a serving loop waits for each step's output). Events around each run; the host wall
  // clock from just before the launches to the end of the synchronisation goes to *host_wall.
  template <typename Body>
  Summary time_each(cudaStream_t stream, int warmup, Body&& body, Summary* host_wall) {
    using Clock = std::chrono::steady_clock;
    const int runs = static_cast<int>(start_.size());
    std::vector<double> wall(size_t(runs), 0.0);
    for (int i = 0; i < warmup + runs; ++i) {
      const auto t0 = Clock::now();
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(start_[size_t(i - warmup)], stream));
      body(i);
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(stop_[size_t(i - warmup)], stream));
      ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
      const auto t1 = Clock::now();
      if (i >= warmup)
        wall[size_t(i - warmup)] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    }
    std::vector<double> ms(size_t(runs), 0.0);
    for (size_t i = 0; i < ms.size(); ++i) {
      float t = 0;
      ELMAN_CUDA_CHECK(cudaEventElapsedTime(&t, start_[i], stop_[i]));
      ms[i] = t;
    }
    *host_wall = summarize(wall);
    return summarize(ms);
  }

 private:
  std::vector<cudaEvent_t> start_, stop_;
};

const auto kNoSetup = [](int) {};

std::vector<float> download(const float* device_ptr, int64_t n) {
  std::vector<float> host(static_cast<size_t>(n));
  if (n)
    ELMAN_CUDA_CHECK(cudaMemcpy(host.data(), device_ptr, size_t(n) * 4, cudaMemcpyDeviceToHost));
  return host;
}

// ---- the machine ----------------------------------------------------------------------------

Rates measure_rates(Context& ctx, cudaStream_t stream, const std::string& device_name) {
  Rates rates;
  EventTimer timer(20);
  {  // a large square SGEMM through elman's own GEMM (cuBLAS, CUBLAS_DEFAULT_MATH: FP32, no TF32)
    constexpr int64_t n = 8192;
    DeviceBuffer a(n * n * 4), b(n * n * 4), c(n * n * 4);
    ELMAN_CUDA_CHECK(cudaMemsetAsync(a.get(), 0, a.bytes(), stream));
    ELMAN_CUDA_CHECK(cudaMemsetAsync(b.get(), 0, b.bytes(), stream));
    detail::Backend& be = ctx.backend();
    const Summary s = timer.time(stream, 2, kNoSetup, [&](int) {
      be.gemm(detail::Trans::kN, detail::Trans::kN, n, n, n, 1.0f, a.f(), n, b.f(), n, 0.0f, c.f(),
              n);
    });
    rates.gemm_flop_per_s = 2.0 * n * n * n / (s.median_ms * 1e-3);
    rates.gemm_what = "SGEMM 8192^3 FP32 (cuBLAS, no TF32), median of 20 on " + device_name;
  }
  {  // a device-to-device copy of 1 GiB: bytes read + bytes written per second
    constexpr size_t bytes = size_t(1) << 30;
    DeviceBuffer src(bytes), dst(bytes);
    ELMAN_CUDA_CHECK(cudaMemsetAsync(src.get(), 0, bytes, stream));
    const Summary s = timer.time(stream, 2, kNoSetup, [&](int) {
      ELMAN_CUDA_CHECK(
          cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream));
    });
    rates.copy_byte_per_s = 2.0 * double(bytes) / (s.median_ms * 1e-3);
    rates.copy_what = "cudaMemcpy device-to-device 1 GiB (read + write), median of 20";
  }
  return rates;
}

// ---- one shape ----------------------------------------------------------------------------

// The inputs of one rotation: the same device buffers feed elman and cuDNN.
struct InputSet {
  Tensor x, h0, dy, dhy;  // [T,B,I], [L*D,B,H], [T,B,D*H], [L*D,B,H]
};

// elman's results on input set 0, on the host, for the agreement check.
struct ElmanResults {
  std::vector<float> y_inference, y, h_n, dx, dh0, dw;
  int64_t pad_y_inference = 0, pad_y = 0, pad_dx = 0;  // nonzero values past the ends (varlen)
};

const char* algo_name(cudnnRNNAlgo_t a) {
  switch (a) {
    case CUDNN_RNN_ALGO_STANDARD:
      return "STANDARD";
    case CUDNN_RNN_ALGO_PERSIST_STATIC:
      return "PERSIST_STATIC";
    case CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H:
      return "PERSIST_STATIC_SMALL_H";
    case CUDNN_RNN_ALGO_PERSIST_DYNAMIC:
      return "PERSIST_DYNAMIC";
    default:
      return "?";
  }
}

struct CudnnShared {
  const CudnnApi& api;
  cudnnHandle_t handle;
  cudnnDropoutDescriptor_t dropout;
  cudaStream_t stream;
};

// Records a rejection: cuDNN said no to this algorithm for this shape (SideResult or StreamSide).
template <typename Side>
bool rejected(Side& side, const CudnnApi& api, const char* call, cudnnStatus_t st) {
  if (st == CUDNN_STATUS_SUCCESS) return false;
  side.status = "rejected";
  side.reason = std::string(call) + ": " + api.cudnnGetErrorString(st);
  return true;
}

// The weight copy: cuDNN's offsets -> a checked plan (cudnn_layout.h) -> host copy -> upload
// into `w` (w_bytes, allocated by the caller). Returns the plan, for the gradients' way back.
std::vector<CopySpan> upload_weights(const CudnnApi& api, cudnnHandle_t h, cudnnRNNDescriptor_t rnn,
                                     const RNNOptions& options, const Tensor& elman_params,
                                     const DeviceBuffer& w, size_t w_bytes) {
  const int cells = int(options.num_layers * options.num_directions());
  std::vector<CudnnParamSlot> slots;
  cudnnTensorDescriptor_t m_raw = nullptr, b_raw = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateTensorDescriptor(&m_raw));
  CudnnOwned<cudnnTensorDescriptor_t> m_desc(m_raw, api.cudnnDestroyTensorDescriptor);
  ELMAN_CUDNN_CHECK(api, cudnnCreateTensorDescriptor(&b_raw));
  CudnnOwned<cudnnTensorDescriptor_t> b_desc(b_raw, api.cudnnDestroyTensorDescriptor);
  auto numel_of = [&](cudnnTensorDescriptor_t d) {
    cudnnDataType_t type;
    int nb = 0, dims[8] = {0}, strides[8] = {0};
    ELMAN_CUDNN_CHECK(api, cudnnGetTensorNdDescriptor(d, 8, &type, &nb, dims, strides));
    int64_t n = 1;
    for (int i = 0; i < nb; ++i) n *= dims[i];
    return n;
  };
  for (int p = 0; p < cells; ++p) {
    for (int lin = 0; lin < 2; ++lin) {
      void* m_addr = nullptr;
      void* b_addr = nullptr;
      ELMAN_CUDNN_CHECK(api, cudnnGetRNNWeightParams(h, rnn, p, w_bytes, w.get(), lin, m_desc.get(),
                                                     &m_addr, b_desc.get(), &b_addr));
      auto offset = [&](void* addr) {
        return int64_t((static_cast<char*>(addr) - static_cast<char*>(w.get())) / 4);
      };
      slots.push_back({p, lin, false, offset(m_addr), numel_of(m_desc.get())});
      slots.push_back({p, lin, true, offset(b_addr), numel_of(b_desc.get())});
    }
  }
  std::vector<CopySpan> plan = plan_cudnn_weight_copy(options, slots, int64_t(w_bytes / 4));
  const std::vector<float> flat = elman_params.to_vector();
  std::vector<float> packed(w_bytes / 4, 0.0f);
  copy_to_cudnn(plan, flat.data(), packed.data());
  ELMAN_CUDA_CHECK(cudaMemcpy(w.get(), packed.data(), w_bytes, cudaMemcpyHostToDevice));
  return plan;
}

// `lengths` empty: every sequence has length T (SEQ_MAJOR_PACKED, padded I/O off, which every
// algorithm takes). Otherwise a varlen row: SEQ_MAJOR_UNPACKED (elman's time-major padded
// layout) with the lengths unsorted, padded I/O on, padding fill 0.
void run_cudnn_algo(const CudnnShared& cs, cudnnRNNAlgo_t algo, const BenchShape& shape,
                    const std::vector<int64_t>& lengths, const BenchConfig& cfg,
                    const Tensor& elman_params, const std::vector<InputSet>& sets,
                    const ElmanResults& ref, EventTimer& timer, SideResult& side) {
  const CudnnApi& api = cs.api;
  cudnnHandle_t h = cs.handle;
  const int T = int(shape.seq_len), B = int(shape.batch), H = int(shape.hidden);
  const int I = int(shape.input_size), D = int(shape.directions()), L = int(shape.layers);
  side.name = algo_name(algo);
  const bool varlen = !lengths.empty();

  cudnnRNNDescriptor_t rnn_raw = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateRNNDescriptor(&rnn_raw));
  CudnnOwned<cudnnRNNDescriptor_t> rnn(rnn_raw, api.cudnnDestroyRNNDescriptor);
  // FMA math: FP32 without TF32, as elman's cuBLAS runs (CUDNN_DEFAULT_MATH may pick TF32 on
  // Ampere and newer); --cudnn-tf32 asks for tensor-op math instead.
  const cudnnMathType_t math = cfg.cudnn_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  if (rejected(side, api, "cudnnSetRNNDescriptor_v8",
               api.cudnnSetRNNDescriptor_v8(
                   rnn.get(), algo, CUDNN_RNN_TANH, CUDNN_RNN_DOUBLE_BIAS,
                   D == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
                   CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, I, H, H, L, cs.dropout,
                   varlen ? CUDNN_RNN_PADDED_IO_ENABLED : CUDNN_RNN_PADDED_IO_DISABLED)))
    return;
  if (algo == CUDNN_RNN_ALGO_PERSIST_DYNAMIC &&
      rejected(side, api, "cudnnBuildRNNDynamic", api.cudnnBuildRNNDynamic(h, rnn.get(), B)))
    return;

  // Sequence data: time-major [T, B, vector]. Every sequence of full length T: elman's layout is
  // cuDNN's SEQ_MAJOR_PACKED (the layout every algorithm takes with padded I/O disabled). A
  // varlen row: SEQ_MAJOR_UNPACKED, the same padded time-major memory; cudnn_adv.h requires
  // sorted lengths only for SEQ_MAJOR_PACKED, so the user's unsorted lengths are passed as they
  // are (an algorithm that refuses them is recorded as rejected).
  auto new_data_desc = [&] {
    cudnnRNNDataDescriptor_t d = nullptr;
    ELMAN_CUDNN_CHECK(api, cudnnCreateRNNDataDescriptor(&d));
    return d;
  };
  CudnnOwned<cudnnRNNDataDescriptor_t> x_desc(new_data_desc(), api.cudnnDestroyRNNDataDescriptor);
  CudnnOwned<cudnnRNNDataDescriptor_t> y_desc(new_data_desc(), api.cudnnDestroyRNNDataDescriptor);
  std::vector<int32_t> seq_lengths(size_t(B), T);
  for (size_t b = 0; b < lengths.size(); ++b) seq_lengths[b] = int32_t(lengths[b]);
  float padding_fill = 0.0f;  // outputs past each end are zero, as in PyTorch and elman
  {
    const cudnnRNNDataLayout_t layout =
        varlen ? CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED : CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED;
    void* fill = varlen ? &padding_fill : nullptr;
    if (rejected(side, api, "cudnnSetRNNDataDescriptor(x)",
                 api.cudnnSetRNNDataDescriptor(x_desc.get(), CUDNN_DATA_FLOAT, layout, T, B, I,
                                               seq_lengths.data(), fill)) ||
        rejected(side, api, "cudnnSetRNNDataDescriptor(y)",
                 api.cudnnSetRNNDataDescriptor(y_desc.get(), CUDNN_DATA_FLOAT, layout, T, B, D * H,
                                               seq_lengths.data(), fill)))
      return;
  }
  cudnnTensorDescriptor_t h_raw = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateTensorDescriptor(&h_raw));
  CudnnOwned<cudnnTensorDescriptor_t> h_desc(h_raw, api.cudnnDestroyTensorDescriptor);
  const int h_dims[3] = {L * D, B, H}, h_strides[3] = {B * H, H, 1};
  ELMAN_CUDNN_CHECK(
      api, cudnnSetTensorNdDescriptor(h_desc.get(), CUDNN_DATA_FLOAT, 3, h_dims, h_strides));
  DeviceBuffer dev_lengths(seq_lengths.size() * sizeof(int32_t));
  ELMAN_CUDA_CHECK(cudaMemcpy(dev_lengths.get(), seq_lengths.data(), dev_lengths.bytes(),
                              cudaMemcpyHostToDevice));
  const int32_t* seq = static_cast<const int32_t*>(dev_lengths.get());

  size_t w_bytes = 0, ws_inf = 0, rs_inf = 0, ws_train = 0, rs_train = 0;
  if (rejected(side, api, "cudnnGetRNNWeightSpaceSize",
               api.cudnnGetRNNWeightSpaceSize(h, rnn.get(), &w_bytes)) ||
      rejected(side, api, "cudnnGetRNNTempSpaceSizes(inference)",
               api.cudnnGetRNNTempSpaceSizes(h, rnn.get(), CUDNN_FWD_MODE_INFERENCE, x_desc.get(),
                                             &ws_inf, &rs_inf)) ||
      rejected(side, api, "cudnnGetRNNTempSpaceSizes(training)",
               api.cudnnGetRNNTempSpaceSizes(h, rnn.get(), CUDNN_FWD_MODE_TRAINING, x_desc.get(),
                                             &ws_train, &rs_train)))
    return;
  DeviceBuffer w(w_bytes), dw(w_bytes), work(std::max(ws_inf, ws_train)), reserve(rs_train);
  DeviceBuffer y(size_t(T) * B * D * H * 4), hy(size_t(L) * D * B * H * 4);
  DeviceBuffer dx(size_t(T) * B * I * 4), dhx(size_t(L) * D * B * H * 4);

  const std::vector<CopySpan> plan =
      upload_weights(api, h, rnn.get(), shape.options(), elman_params, w, w_bytes);

  cudaStream_t stream = cs.stream;
  auto forward = [&](cudnnForwardMode_t mode, const InputSet& in) {
    return api.cudnnRNNForward(h, rnn.get(), mode, seq, x_desc.get(), in.x.data(), y_desc.get(),
                               y.get(), h_desc.get(), in.h0.data(), hy.get(), nullptr, nullptr,
                               nullptr, w_bytes, w.get(), work.bytes(), work.get(),
                               mode == CUDNN_FWD_MODE_TRAINING ? reserve.bytes() : 0,
                               mode == CUDNN_FWD_MODE_TRAINING ? reserve.get() : nullptr);
  };
  auto backward = [&](const InputSet& in) {
    cudnnStatus_t st = api.cudnnRNNBackwardData_v8(
        h, rnn.get(), seq, y_desc.get(), y.get(), in.dy.data(), x_desc.get(), dx.get(),
        h_desc.get(), in.h0.data(), in.dhy.data(), dhx.get(), nullptr, nullptr, nullptr, nullptr,
        w_bytes, w.get(), work.bytes(), work.get(), reserve.bytes(), reserve.get());
    if (st != CUDNN_STATUS_SUCCESS) return st;
    // cuDNN 9 only accumulates weight gradients (CUDNN_WGRAD_MODE_ADD), as elman does.
    return api.cudnnRNNBackwardWeights_v8(h, rnn.get(), CUDNN_WGRAD_MODE_ADD, seq, x_desc.get(),
                                          in.x.data(), h_desc.get(), in.h0.data(), y_desc.get(),
                                          y.get(), w_bytes, dw.get(), work.bytes(), work.get(),
                                          reserve.bytes(), reserve.get());
  };

  // Agreement on input set 0, before any timing.
  const InputSet& s0 = sets[0];
  if (rejected(side, api, "cudnnRNNForward(inference)", forward(CUDNN_FWD_MODE_INFERENCE, s0)))
    return;
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> y_inf = download(y.f(), int64_t(T) * B * D * H);
  if (rejected(side, api, "cudnnRNNForward(training)", forward(CUDNN_FWD_MODE_TRAINING, s0)))
    return;
  ELMAN_CUDA_CHECK(cudaMemsetAsync(dw.get(), 0, w_bytes, stream));
  if (rejected(side, api, "cudnnRNNBackwardData_v8/BackwardWeights_v8", backward(s0))) return;
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> dw_elman_order(ref.dw.size(), 0.0f);
  {
    const std::vector<float> packed = download(dw.f(), int64_t(w_bytes / 4));
    copy_from_cudnn(plan, packed.data(), dw_elman_order.data());
  }
  const std::vector<float> y_train = download(y.f(), int64_t(T) * B * D * H);
  std::vector<float> dx_cudnn = download(dx.f(), int64_t(T) * B * I);
  side.errors["y_inference"] = relative_error(ref.y_inference, y_inf);
  side.errors["y"] = relative_error(ref.y, y_train);
  side.errors["h_n"] =
      relative_error(ref.h_n, download(static_cast<float*>(hy.get()), int64_t(L) * D * B * H));
  if (varlen) {
    // Outputs past each end: zero on both sides (cuDNN's padding fill, elman's semantics).
    side.errors["pad_y_inference_elman"] = double(ref.pad_y_inference);
    side.errors["pad_y_elman"] = double(ref.pad_y);
    side.errors["pad_dx_elman"] = double(ref.pad_dx);
    side.errors["pad_y_inference_cudnn"] =
        double(count_nonzero_padding(y_inf, lengths, T, B, D * H));
    side.errors["pad_y_cudnn"] = double(count_nonzero_padding(y_train, lengths, T, B, D * H));
    // cuDNN's padding fill is documented for outputs of the forward; its dx past the ends is
    // not specified, so it is compared where it is defined (elman's is checked zero above).
    zero_padding(dx_cudnn, lengths, T, B, I);
  }
  side.errors["dx"] = relative_error(ref.dx, dx_cudnn);
  side.errors["dh0"] = relative_error(ref.dh0, download(dhx.f(), int64_t(L) * D * B * H));
  side.errors["dw"] = relative_error(ref.dw, dw_elman_order);
  const double fwd_tol = cfg.cudnn_tf32 ? kTf32Tolerance : kForwardTolerance;
  const double grad_tol = cfg.cudnn_tf32 ? kTf32Tolerance : kGradientTolerance;
  const std::string bad = disagreements(side.errors, fwd_tol, grad_tol);
  if (!bad.empty()) {
    side.status = "disagrees";
    side.reason = bad;
    return;
  }

  // Timing: inputs rotated, nothing allocated, every status checked after the loop.
  const int K = int(sets.size());
  cudnnStatus_t worst = CUDNN_STATUS_SUCCESS;
  auto note = [&](cudnnStatus_t st) {
    if (st != CUDNN_STATUS_SUCCESS) worst = st;
  };
  const int wu = cfg.warmup;
  side.phases[int(Phase::kInference)] = timer.time(stream, wu, kNoSetup, [&](int i) {
    note(forward(CUDNN_FWD_MODE_INFERENCE, sets[size_t(i % K)]));
  });
  side.phases[int(Phase::kTrainForward)] = timer.time(stream, wu, kNoSetup, [&](int i) {
    note(forward(CUDNN_FWD_MODE_TRAINING, sets[size_t(i % K)]));
  });
  side.phases[int(Phase::kBackward)] = timer.time(
      stream, wu, [&](int i) { note(forward(CUDNN_FWD_MODE_TRAINING, sets[size_t(i % K)])); },
      [&](int i) { note(backward(sets[size_t(i % K)])); });
  side.phases[int(Phase::kStep)] = timer.time(stream, wu, kNoSetup, [&](int i) {
    note(forward(CUDNN_FWD_MODE_TRAINING, sets[size_t(i % K)]));
    note(backward(sets[size_t(i % K)]));
  });
  if (worst != CUDNN_STATUS_SUCCESS) {
    side.status = "error";
    side.reason = std::string("a timed call returned ") + api.cudnnGetErrorString(worst);
    return;
  }
  side.timed = true;
  side.status = "ok";
}

void run_shape(Context& ctx, const CudnnShared& cs, const BenchConfig& cfg, EventTimer& timer,
               ShapeResult& r) {
  const BenchShape& s = r.shape;
  const Device dev = ctx.device();
  const int64_t T = s.seq_len, B = s.batch, H = s.hidden, D = s.directions();
  const int64_t LD = s.layers * D;
  const std::vector<int64_t>& lens = r.lengths;  // empty: every sequence runs T steps
  RNN rnn(ctx, s.options(), cfg.seed);

  std::vector<InputSet> sets;
  for (int k = 0; k < cfg.rotations; ++k) {
    const uint64_t seed = cfg.seed * 1000003u + uint64_t(k) * 4;
    InputSet in;
    in.x =
        Tensor::from_vector({T, B, s.input_size}, random_values(T * B * s.input_size, seed), dev);
    in.h0 = Tensor::from_vector({LD, B, H}, random_values(LD * B * H, seed + 1), dev);
    in.dy = Tensor::from_vector({T, B, D * H}, random_values(T * B * D * H, seed + 2), dev);
    in.dhy = Tensor::from_vector({LD, B, H}, random_values(LD * B * H, seed + 3), dev);
    sets.push_back(std::move(in));
  }

  // elman's results on set 0 (these calls also size every workspace, so timing allocates nothing).
  RNNOutput inf_out, train_out;
  RNNCache cache;
  RNNInputGrads grads;
  ElmanResults ref;
  rnn.forward_into(sets[0].x, sets[0].h0, inf_out, lens);
  ref.y_inference = inf_out.output.to_vector();
  rnn.forward_train_into(sets[0].x, sets[0].h0, cache, train_out, lens);
  rnn.zero_grad();
  rnn.backward_into(cache, sets[0].dy, sets[0].dhy, grads);
  ref.y = train_out.output.to_vector();
  ref.h_n = train_out.h_n.to_vector();
  ref.dx = grads.grad_input.to_vector();
  ref.dh0 = grads.grad_h0.to_vector();
  ref.dw = rnn.flat_grads().to_vector();
  ref.pad_y_inference = count_nonzero_padding(ref.y_inference, lens, T, B, D * H);
  ref.pad_y = count_nonzero_padding(ref.y, lens, T, B, D * H);
  ref.pad_dx = count_nonzero_padding(ref.dx, lens, T, B, s.input_size);

  // cuDNN, every algorithm; each checked against elman before it is timed.
  for (cudnnRNNAlgo_t algo :
       {CUDNN_RNN_ALGO_STANDARD, CUDNN_RNN_ALGO_PERSIST_STATIC,
        CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H, CUDNN_RNN_ALGO_PERSIST_DYNAMIC}) {
    SideResult side;
    side.name = algo_name(algo);
    try {
      run_cudnn_algo(cs, algo, s, lens, cfg, rnn.flat_parameters(), sets, ref, timer, side);
    } catch (const Error& e) {
      side.status = "error";
      side.reason = e.what();
      cudaGetLastError();  // a failed allocation is not sticky; leave the next algorithm a clean
                           // slate
    }
    r.peers.push_back(side);
    if (side.status == "ok") r.verified = true;
  }
  r.elman.name = "elman";
  if (!r.verified) {
    r.elman.status = "unverified";
    r.elman.reason = "no cuDNN algorithm ran and agreed";
    return;
  }

  const int K = cfg.rotations, wu = cfg.warmup;
  cudaStream_t stream = cs.stream;
  auto in = [&](int i) -> const InputSet& { return sets[size_t(i % K)]; };
  r.elman.phases[int(Phase::kInference)] = timer.time(
      stream, wu, kNoSetup, [&](int i) { rnn.forward_into(in(i).x, in(i).h0, inf_out, lens); });
  r.elman.phases[int(Phase::kTrainForward)] = timer.time(stream, wu, kNoSetup, [&](int i) {
    rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens);
  });
  r.elman.phases[int(Phase::kBackward)] = timer.time(
      stream, wu, [&](int i) { rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens); },
      [&](int i) { rnn.backward_into(cache, in(i).dy, in(i).dhy, grads); });
  r.elman.phases[int(Phase::kStep)] = timer.time(stream, wu, kNoSetup, [&](int i) {
    rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens);
    rnn.backward_into(cache, in(i).dy, in(i).dhy, grads);
  });
  r.elman.timed = true;
  r.elman.status = "ok";
}

// ---- streaming ----------------------------------------------------------------------------

// One streaming shape's inputs on the device and elman's full forward over them (host).
struct StreamInputs {
  Tensor x_all, h0;           // [N, B, I], [L, B, H]
  std::vector<float> y, h_n;  // elman's forward over all N steps
};

// cuDNN's peer of one step: cudnnRNNForward (inference) with seqLength 1, the hidden state
// carried between calls in two buffers used in turn (hx of a call is hy of the previous one).
void run_cudnn_stream_algo(const CudnnShared& cs, cudnnRNNAlgo_t algo, const StreamShape& shape,
                           const BenchConfig& cfg, const Tensor& elman_params,
                           const StreamInputs& in, EventTimer& timer, StreamSide& side) {
  const CudnnApi& api = cs.api;
  cudnnHandle_t h = cs.handle;
  const int B = int(shape.batch), H = int(shape.hidden), I = int(shape.input_size);
  const int L = int(shape.layers);
  const int64_t N = cfg.stream_warmup + cfg.stream_steps;
  side.name = algo_name(algo);

  cudnnRNNDescriptor_t rnn_raw = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateRNNDescriptor(&rnn_raw));
  CudnnOwned<cudnnRNNDescriptor_t> rnn(rnn_raw, api.cudnnDestroyRNNDescriptor);
  const cudnnMathType_t math = cfg.cudnn_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  if (rejected(side, api, "cudnnSetRNNDescriptor_v8",
               api.cudnnSetRNNDescriptor_v8(rnn.get(), algo, CUDNN_RNN_TANH, CUDNN_RNN_DOUBLE_BIAS,
                                            CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
                                            CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, I, H, H, L,
                                            cs.dropout, CUDNN_RNN_PADDED_IO_DISABLED)))
    return;
  if (algo == CUDNN_RNN_ALGO_PERSIST_DYNAMIC &&
      rejected(side, api, "cudnnBuildRNNDynamic", api.cudnnBuildRNNDynamic(h, rnn.get(), B)))
    return;
  auto new_data_desc = [&] {
    cudnnRNNDataDescriptor_t d = nullptr;
    ELMAN_CUDNN_CHECK(api, cudnnCreateRNNDataDescriptor(&d));
    return d;
  };
  CudnnOwned<cudnnRNNDataDescriptor_t> x_desc(new_data_desc(), api.cudnnDestroyRNNDataDescriptor);
  CudnnOwned<cudnnRNNDataDescriptor_t> y_desc(new_data_desc(), api.cudnnDestroyRNNDataDescriptor);
  std::vector<int32_t> ones(size_t(B), 1);  // one step per call
  ELMAN_CUDNN_CHECK(api, cudnnSetRNNDataDescriptor(x_desc.get(), CUDNN_DATA_FLOAT,
                                                   CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, 1, B, I,
                                                   ones.data(), nullptr));
  ELMAN_CUDNN_CHECK(api, cudnnSetRNNDataDescriptor(y_desc.get(), CUDNN_DATA_FLOAT,
                                                   CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, 1, B, H,
                                                   ones.data(), nullptr));
  cudnnTensorDescriptor_t h_raw = nullptr;
  ELMAN_CUDNN_CHECK(api, cudnnCreateTensorDescriptor(&h_raw));
  CudnnOwned<cudnnTensorDescriptor_t> h_desc(h_raw, api.cudnnDestroyTensorDescriptor);
  const int h_dims[3] = {L, B, H}, h_strides[3] = {B * H, H, 1};
  ELMAN_CUDNN_CHECK(
      api, cudnnSetTensorNdDescriptor(h_desc.get(), CUDNN_DATA_FLOAT, 3, h_dims, h_strides));
  DeviceBuffer dev_ones(ones.size() * sizeof(int32_t));
  ELMAN_CUDA_CHECK(
      cudaMemcpy(dev_ones.get(), ones.data(), dev_ones.bytes(), cudaMemcpyHostToDevice));
  const int32_t* seq = static_cast<const int32_t*>(dev_ones.get());

  size_t w_bytes = 0, ws = 0, rs = 0;
  if (rejected(side, api, "cudnnGetRNNWeightSpaceSize",
               api.cudnnGetRNNWeightSpaceSize(h, rnn.get(), &w_bytes)) ||
      rejected(side, api, "cudnnGetRNNTempSpaceSizes(inference)",
               api.cudnnGetRNNTempSpaceSizes(h, rnn.get(), CUDNN_FWD_MODE_INFERENCE, x_desc.get(),
                                             &ws, &rs)))
    return;
  const size_t state_bytes = size_t(L) * B * H * 4;
  DeviceBuffer w(w_bytes), work(ws), hx_a(state_bytes), hx_b(state_bytes);
  DeviceBuffer y_all(size_t(N) * B * H * 4);
  upload_weights(api, h, rnn.get(), shape.options(), elman_params, w, w_bytes);

  cudaStream_t stream = cs.stream;
  const float* x = in.x_all.data();
  float* cur = hx_a.f();
  float* next = hx_b.f();
  auto step = [&](int64_t t) {
    const cudnnStatus_t st = api.cudnnRNNForward(
        h, rnn.get(), CUDNN_FWD_MODE_INFERENCE, seq, x_desc.get(), x + t * B * I, y_desc.get(),
        y_all.f() + t * B * H, h_desc.get(), cur, next, nullptr, nullptr, nullptr, w_bytes, w.get(),
        work.bytes(), work.get(), 0, nullptr);
    std::swap(cur, next);
    return st;
  };
  auto restart = [&] {
    cur = hx_a.f();
    next = hx_b.f();
    ELMAN_CUDA_CHECK(
        cudaMemcpyAsync(cur, in.h0.data(), state_bytes, cudaMemcpyDeviceToDevice, stream));
  };

  // Agreement with elman's full forward over the same sequence, before any timing.
  restart();
  for (int64_t t = 0; t < N; ++t)
    if (rejected(side, api, "cudnnRNNForward(seqLength 1)", step(t))) return;
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> checked_state = download(cur, int64_t(L) * B * H);
  side.errors["stream_y_vs_elman_forward"] = relative_error(in.y, download(y_all.f(), N * B * H));
  side.errors["stream_h_n_vs_elman_forward"] = relative_error(in.h_n, checked_state);
  const double tol = cfg.cudnn_tf32 ? kTf32Tolerance : kForwardTolerance;
  std::string bad = disagreements(side.errors, tol, tol);
  if (!bad.empty()) {
    side.status = "disagrees";
    side.reason = bad;
    return;
  }

  // Timing: the same stream again, each step between its own events.
  restart();
  cudnnStatus_t worst = CUDNN_STATUS_SUCCESS;
  side.per_step = timer.time_each(
      stream, cfg.stream_warmup,
      [&](int t) {
        const cudnnStatus_t st = step(t);
        if (st != CUDNN_STATUS_SUCCESS) worst = st;
      },
      &side.host_wall);
  if (worst != CUDNN_STATUS_SUCCESS) {
    side.status = "error";
    side.reason = std::string("a timed call returned ") + api.cudnnGetErrorString(worst);
    return;
  }
  side.errors["timed_h_n_vs_checked"] =
      relative_error(download(cur, int64_t(L) * B * H), checked_state);
  bad = disagreements(side.errors, tol, tol);
  if (!bad.empty()) {
    side.status = "disagrees";
    side.reason = bad;
    return;
  }
  side.timed = true;
  side.status = "ok";
}

void run_stream(Context& ctx, const CudnnShared& cs, const BenchConfig& cfg, EventTimer& timer,
                StreamResult& r) {
  const StreamShape& s = r.shape;
  const Device dev = ctx.device();
  const int64_t B = s.batch, H = s.hidden, I = s.input_size, L = s.layers;
  const int64_t N = cfg.stream_warmup + cfg.stream_steps;
  r.steps = cfg.stream_steps;
  r.warmup = cfg.stream_warmup;
  r.timing =
      "CUDA events around each step, the stream synchronised after each step (a serving loop "
      "waits for every output; host wall clock per step in the JSON)";
  RNN rnn(ctx, s.options(), cfg.seed);
  const uint64_t seed = cfg.seed * 1000003u + 977;  // the CPU side's inputs too
  StreamInputs in;
  in.x_all = Tensor::from_vector({N, B, I}, random_values(N * B * I, seed), dev);
  in.h0 = Tensor::from_vector({L, B, H}, random_values(L * B * H, seed + 1), dev);
  std::vector<Tensor> x_steps;  // views, made before any timing
  for (int64_t t = 0; t < N; ++t) x_steps.push_back(in.x_all.view({B, I}, t * B * I));
  {
    RNNOutput full;
    rnn.forward_into(in.x_all, in.h0, full);
    in.y = full.output.to_vector();
    in.h_n = full.h_n.to_vector();
  }

  // elman's stream against its own full forward, before any timing.
  std::vector<float> checked_state;
  if (!stream_matches_forward(rnn, in.h0, x_steps, in.y, in.h_n, r.elman, checked_state)) return;

  for (cudnnRNNAlgo_t algo :
       {CUDNN_RNN_ALGO_STANDARD, CUDNN_RNN_ALGO_PERSIST_STATIC,
        CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H, CUDNN_RNN_ALGO_PERSIST_DYNAMIC}) {
    StreamSide side;
    side.name = algo_name(algo);
    try {
      run_cudnn_stream_algo(cs, algo, s, cfg, rnn.flat_parameters(), in, timer, side);
    } catch (const Error& e) {
      side.status = "error";
      side.reason = e.what();
      cudaGetLastError();
    }
    r.peers.push_back(side);
    if (side.status == "ok") r.verified = true;
  }
  if (!r.verified) {
    r.elman.status = "unverified";
    r.elman.reason = "no cuDNN algorithm ran and agreed";
    return;
  }

  // The timed pass: the same stream again from h0.
  RNNOutput out{Tensor::empty({B, H}, dev), in.h0.clone()};
  r.elman.per_step = timer.time_each(
      cs.stream, cfg.stream_warmup, [&](int t) { rnn.step_into(x_steps[size_t(t)], out.h_n, out); },
      &r.elman.host_wall);
  r.elman.errors["timed_h_n_vs_checked"] = relative_error(out.h_n.to_vector(), checked_state);
  const std::string bad = disagreements(r.elman.errors, kStreamTolerance, kStreamTolerance);
  if (!bad.empty()) {
    r.elman.status = "disagrees";
    r.elman.reason = bad;
    r.verified = false;
    return;
  }
  r.elman.timed = true;
  r.elman.status = "ok";
}

std::string version_str(int v) {  // CUDA's 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

BenchRun run_gpu_bench(const std::vector<BenchShape>& shapes,
                       const std::vector<StreamShape>& stream_shapes, const BenchConfig& config,
                       nlohmann::json& env, Rates& rates) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    const std::string why = status != cudaSuccess ? std::string(cudaGetErrorName(status)) + ": " +
                                                        cudaGetErrorString(status)
                                                  : "cudaGetDeviceCount found 0 devices";
    throw Error("elman-bench: no CUDA device (" + why +
                "). Use --device cpu to compare elman's CPU backend with PyTorch.");
  }
  std::string why;
  const CudnnApi* api = load_cudnn(&why);
  if (!api) throw Error("elman-bench: " + why);

  ELMAN_CUDA_CHECK(cudaSetDevice(0));
  cudaDeviceProp prop{};
  ELMAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int driver = 0, runtime = 0;
  ELMAN_CUDA_CHECK(cudaDriverGetVersion(&driver));
  ELMAN_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  env["device"] = prop.name;
  env["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  env["multiprocessors"] = prop.multiProcessorCount;
  env["memory_bytes"] = prop.totalGlobalMem;
  env["cuda_driver"] = version_str(driver);
  env["cuda_runtime"] = version_str(runtime);
  env["cudnn"] = std::to_string(api->version / 10000) + "." +
                 std::to_string((api->version % 10000) / 100) + "." +
                 std::to_string(api->version % 100);
  env["cudnn_library"] = api->library;
  env["cudnn_cudart"] = version_str(int(api->cudnnGetCudartVersion()));
  env["cudnn_math"] = config.cudnn_tf32 ? "CUDNN_TENSOR_OP_MATH (TF32 allowed)"
                                        : "CUDNN_FMA_MATH (FP32, like elman)";

  Stream stream;
  Context ctx(Device::cuda(0), stream.get());
  rates = measure_rates(ctx, stream.get(), prop.name);

  cudnnHandle_t handle_raw = nullptr;
  ELMAN_CUDNN_CHECK(*api, cudnnCreate(&handle_raw));
  CudnnOwned<cudnnHandle_t> handle(handle_raw, api->cudnnDestroy);
  ELMAN_CUDNN_CHECK(*api, cudnnSetStream(handle.get(), stream.get()));
  // Dropout 0 (none), with its state buffer as cuDNN asks for one.
  cudnnDropoutDescriptor_t drop_raw = nullptr;
  ELMAN_CUDNN_CHECK(*api, cudnnCreateDropoutDescriptor(&drop_raw));
  CudnnOwned<cudnnDropoutDescriptor_t> dropout(drop_raw, api->cudnnDestroyDropoutDescriptor);
  size_t state_bytes = 0;
  ELMAN_CUDNN_CHECK(*api, cudnnDropoutGetStatesSize(handle.get(), &state_bytes));
  DeviceBuffer states(state_bytes);
  ELMAN_CUDNN_CHECK(*api, cudnnSetDropoutDescriptor(dropout.get(), handle.get(), 0.0f, states.get(),
                                                    state_bytes, config.seed));
  const CudnnShared cs{*api, handle.get(), dropout.get(), stream.get()};
  EventTimer timer(config.runs);

  BenchRun run;
  std::vector<ShapeResult>& results = run.shapes;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ShapeResult r;
    r.shape = shapes[i];
    if (r.shape.varlen)
      r.lengths = draw_lengths(r.shape.batch, r.shape.seq_len,
                               lengths_seed(config.seed, r.shape.batch, r.shape.seq_len));
    fill_counts(r, rates);
    std::cerr << "[" << i + 1 << "/" << shapes.size() << "] " << r.shape.name() << std::flush;
    try {
      run_shape(ctx, cs, config, timer, r);
      // A varlen row every cuDNN algorithm rejected: if cuDNN turns out to want sorted lengths
      // after all, run the row again with the lengths sorted longest-first on both sides (the
      // inputs are i.i.d., so this is the same batch in another order), and say so.
      bool all_rejected = r.shape.varlen && !r.verified && !r.peers.empty();
      for (const SideResult& p : r.peers) all_rejected = all_rejected && p.status == "rejected";
      if (all_rejected) {
        ShapeResult sorted;
        sorted.shape = r.shape;
        sorted.lengths = r.lengths;
        std::sort(sorted.lengths.begin(), sorted.lengths.end(), std::greater<int64_t>());
        sorted.note =
            "lengths sorted longest-first on both sides: with them unsorted every cuDNN "
            "algorithm rejected the batch (" +
            r.peers[0].reason + ")";
        fill_counts(sorted, rates);
        run_shape(ctx, cs, config, timer, sorted);
        r = std::move(sorted);
      }
    } catch (const Error& e) {
      r.error = e.what();
      cudaGetLastError();
    }
    std::cerr << (r.error.empty() ? (r.verified ? "  ok" : "  unverified") : "  failed") << "\n";
    results.push_back(std::move(r));
  }
  if (!stream_shapes.empty()) {
    EventTimer stream_timer(config.stream_steps);
    for (size_t i = 0; i < stream_shapes.size(); ++i) {
      StreamResult r;
      r.shape = stream_shapes[i];
      std::cerr << "[stream " << i + 1 << "/" << stream_shapes.size() << "] " << r.shape.name()
                << std::flush;
      try {
        run_stream(ctx, cs, config, stream_timer, r);
      } catch (const Error& e) {
        r.error = e.what();
        cudaGetLastError();
      }
      std::cerr << (r.error.empty() ? (r.verified ? "  ok" : "  unverified") : "  failed") << "\n";
      run.streaming.push_back(std::move(r));
    }
  }
  return run;
}

}  // namespace elman::bench
