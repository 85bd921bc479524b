// RAII owners of the GPU side of elman-bench: device buffers, streams, and cuDNN handles and
// descriptors (each destroyed by the function of its kind).
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

#include "kernels/cuda_check.cuh"

namespace elman::bench {

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
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      o.ptr_ = nullptr;
    }
    return *this;
  }
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

}  // namespace elman::bench
