// The CUDA backend: cuBLAS GEMMs and the functor ops through the generic launcher, on the
// user's stream; a second lane (stream + cuBLAS handle) runs the reverse direction concurrently.
// Every entry point makes the backend's device current first (CudaDeviceScope).
#include <array>
#include <unordered_map>

#include "host/backend.h"
#include "host/graph_key.h"
#include "kernels/cuda_api.h"
#include "kernels/cuda_check.cuh"
#include "kernels/cuda_raii.cuh"
#include "kernels/launch.cuh"
#include "kernels/pinned_staging.cuh"

namespace elman::detail {
namespace {

constexpr int kMaxLanes = 2;

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, cudaStream_t user_stream) : device_(device), main_(user_stream) {
    const CudaDeviceScope on_device(device_);
    lane_streams_[0] = main_;
    extra_streams_[1] = make_stream();
    lane_streams_[1] = extra_streams_[1].get();
    for (int k = 0; k < kMaxLanes; ++k) {
      handles_[k] = make_cublas(lane_streams_[k]);
      events_[k] = make_event();
    }
  }

  // The handles, events, streams and staging buffers are released with the device current.
  ~CudaBackend() override {
    try {
      const CudaDeviceScope on_device(device_);
      for (IndexBuffer& counts : step_counts) counts = IndexBuffer();  // freed on their lanes
      graphs_.clear();
      staging_.reset();
      for (int k = 0; k < kMaxLanes; ++k) {
        handles_[k].reset();
        events_[k].reset();
        extra_streams_[k].reset();
      }
    } catch (const Error&) {
      // The device is gone: the members release what is left as they can.
    }
  }

  Device device() const override { return Device::cuda(device_); }
  CUstream_st* stream() const override { return main_; }
  void synchronize() override {
    const CudaDeviceScope on_device(device_);
    ELMAN_CUDA_CHECK(cudaStreamSynchronize(main_));
  }

  void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
            int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) override {
    check_gemm_args(ta, tb, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    const CudaDeviceScope on_device(device_);
    auto op = [](Trans t) { return t == Trans::kN ? CUBLAS_OP_N : CUBLAS_OP_T; };
    ELMAN_CUBLAS_CHECK(cublasSgemm(handles_[lane_].get(), op(ta), op(tb), static_cast<int>(m),
                                   static_cast<int>(n), static_cast<int>(k), &alpha, A,
                                   static_cast<int>(lda), B, static_cast<int>(ldb), &beta, C,
                                   static_cast<int>(ldc)));
  }

  CUstream_st* current_stream() const override { return current(); }

  // Through pinned staging (kernels/pinned_staging.cuh): the copy is ordered on the lane, and
  // the caller may reuse host_src at once.
  void upload(void* dst, const void* host_src, size_t bytes) override {
    if (bytes == 0) return;
    const CudaDeviceScope on_device(device_);
    if (!staging_) staging_ = std::make_unique<PinnedStagingRing>();
    staging_->upload(dst, host_src, bytes, current());
  }

  // cuBLAS's GEMMs record into a graph as they are (since CUDA 12.2 cuBLAS takes its workspace
  // stream-ordered, not with cudaMalloc). A failed capture is ended before the error leaves.
  void capture_or_replay(const GraphKey& key, const std::function<void()>& record) override {
    cudaStream_t stream = current();
#ifndef NDEBUG
    stream = nullptr;  // debug builds synchronise after every launch, which capture forbids
#endif
    if (!stream) {  // the legacy default stream cannot be captured
      record();
      return;
    }
    const CudaDeviceScope on_device(device_);
    auto found = graphs_.find(key);
    if (found == graphs_.end()) {
      if (graphs_.size() >= kMaxGraphs) graphs_.clear();  // shapes keep changing: start over
      ELMAN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      try {
        record();
      } catch (...) {
        cudaGraph_t partial = nullptr;
        cudaStreamEndCapture(stream, &partial);
        if (partial) cudaGraphDestroy(partial);
        cudaGetLastError();
        throw;
      }
      cudaGraph_t raw = nullptr;
      ELMAN_CUDA_CHECK(cudaStreamEndCapture(stream, &raw));
      const GraphOwner graph(raw);
      cudaGraphExec_t exec = nullptr;
      ELMAN_CUDA_CHECK(cudaGraphInstantiate(&exec, graph.get(), 0));
      found = graphs_.emplace(key, GraphExecOwner(exec)).first;
    }
    ELMAN_CUDA_CHECK(cudaGraphLaunch(found->second.get(), stream));
  }

  void fork(int lanes) override {
    if (lanes < 1 || lanes > kMaxLanes) throw Error("CudaBackend::fork: lanes must be 1 or 2");
    const CudaDeviceScope on_device(device_);
    ELMAN_CUDA_CHECK(cudaEventRecord(events_[0].get(), main_));
    for (int k = 1; k < lanes; ++k)
      ELMAN_CUDA_CHECK(cudaStreamWaitEvent(lane_streams_[k], events_[0].get(), 0));
    lanes_ = lanes;
    lane_ = 0;
  }
  void set_lane(int lane) override {
    if (lane < 0 || lane >= lanes_) throw Error("CudaBackend::set_lane: lane out of range");
    lane_ = lane;
  }
  // Back on the main lane even when a wait cannot be queued (the error is still thrown).
  void join() override {
    const int lanes = lanes_;
    lanes_ = 1;
    lane_ = 0;
    const CudaDeviceScope on_device(device_);
    for (int k = 1; k < lanes; ++k) {
      ELMAN_CUDA_CHECK(cudaEventRecord(events_[k].get(), lane_streams_[k]));
      ELMAN_CUDA_CHECK(cudaStreamWaitEvent(main_, events_[k].get(), 0));
    }
  }

 private:
  cudaStream_t current() const { return lane_streams_[lane_]; }

  int device_;
  cudaStream_t main_;  // the user's stream (not owned)
  std::array<StreamOwner, kMaxLanes> extra_streams_;
  std::array<cudaStream_t, kMaxLanes> lane_streams_{};
  std::array<CublasOwner, kMaxLanes> handles_;
  std::array<EventOwner, kMaxLanes> events_;
  std::unique_ptr<PinnedStagingRing> staging_;                         // made at the first upload
  std::unordered_map<GraphKey, GraphExecOwner, GraphKeyHash> graphs_;  // Algorithm::kGraph
  static constexpr size_t kMaxGraphs = 64;
  int lanes_ = 1;
  int lane_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device, CUstream_st* stream) {
  return std::make_unique<CudaBackend>(device, stream);
}

}  // namespace elman::detail
