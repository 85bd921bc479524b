// RAII owners for CUDA streams, events and cuBLAS handles (STYLE.md: no naked destroy calls).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/cuda_check.cuh"

namespace elman::detail {

template <typename T, void (*Destroy)(T)>
class CudaOwner {
 public:
  CudaOwner() = default;
  explicit CudaOwner(T h) : h_(h) {}
  ~CudaOwner() { reset(); }
  CudaOwner(CudaOwner&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  CudaOwner& operator=(CudaOwner&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  CudaOwner(const CudaOwner&) = delete;
  CudaOwner& operator=(const CudaOwner&) = delete;
  T get() const { return h_; }
  void reset() {
    if (h_) Destroy(h_);
    h_ = nullptr;
  }

 private:
  T h_ = nullptr;
};

inline void destroy_stream(cudaStream_t s) { cudaStreamDestroy(s); }
inline void destroy_event(cudaEvent_t e) { cudaEventDestroy(e); }
inline void destroy_cublas(cublasHandle_t h) { cublasDestroy(h); }
inline void destroy_graph_exec(cudaGraphExec_t g) { cudaGraphExecDestroy(g); }
inline void destroy_graph(cudaGraph_t g) { cudaGraphDestroy(g); }

using StreamOwner = CudaOwner<cudaStream_t, destroy_stream>;
using EventOwner = CudaOwner<cudaEvent_t, destroy_event>;
using CublasOwner = CudaOwner<cublasHandle_t, destroy_cublas>;
using GraphExecOwner = CudaOwner<cudaGraphExec_t, destroy_graph_exec>;
using GraphOwner = CudaOwner<cudaGraph_t, destroy_graph>;

inline StreamOwner make_stream() {
  cudaStream_t s = nullptr;
  ELMAN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return StreamOwner(s);
}
inline EventOwner make_event() {
  cudaEvent_t e = nullptr;
  ELMAN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return EventOwner(e);
}
inline CublasOwner make_cublas(cudaStream_t stream) {
  cublasHandle_t h = nullptr;
  ELMAN_CUBLAS_CHECK(cublasCreate(&h));
  CublasOwner owner(h);
  ELMAN_CUBLAS_CHECK(cublasSetStream(h, stream));
  // Plain FP32 (no TF32): results must match the float64 reference within 1e-5.
  ELMAN_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  return owner;
}

}  // namespace elman::detail
