// The plain-C++ face of the CUDA code: what host files may call without CUDA's headers.
// Implemented in cuda_memory.cu, cuda_backend.cu and cuda_device_scope.cu; in a CPU-only build
// by cuda_unavailable.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "elman/device.h"

struct CUstream_st;

namespace elman::detail {

class Backend;

bool cuda_built_in();                           // false in a CPU-only build
int cuda_device_count_or_zero();                // never throws: no driver or no GPU is 0
void* cuda_allocate(size_t bytes, int device);  // throws Error naming the size on failure
void cuda_free(void* ptr, int device) noexcept;
// The same from the device's stream-ordered pool (cudaMallocAsync/cudaFreeAsync on `stream`):
// no device-wide synchronisation, and freed memory stays in the pool for the next allocation.
// The stream must outlive the memory (elman's buffers live no longer than their Context).
void* cuda_allocate_async(size_t bytes, int device, CUstream_st* stream);
void cuda_free_async(void* ptr, int device, CUstream_st* stream) noexcept;
// Synchronous copies between host and device, or device and device (device-wide sync first,
// so they are ordered after all queued work on every stream).
void cuda_copy(void* dst, const void* src, size_t bytes, bool dst_on_device, bool src_on_device);
void cuda_fill_float(float* dst, size_t n, float value, int device);

std::unique_ptr<Backend> make_cuda_backend(int device, CUstream_st* stream);

// Makes `device` the calling thread's current CUDA device for the scope's lifetime and restores
// the previous one at its end. Every CUDA entry point opens one: the current device is per
// thread and the user's to change, and a launch, copy or cuBLAS call on another device's stream
// or memory fails or lands on the wrong device. Throws Error when the device cannot be made
// current. Costs one cudaGetDevice when the device is already current.
class CudaDeviceScope {
 public:
  explicit CudaDeviceScope(int device);
  ~CudaDeviceScope();
  CudaDeviceScope(const CudaDeviceScope&) = delete;
  CudaDeviceScope& operator=(const CudaDeviceScope&) = delete;

 private:
  int previous_ = -1;  // the device to restore; -1: it was already current
};

// CPU-only builds: throws the Error that says `what` needs CUDA, which this library lacks.
[[noreturn]] void throw_built_without_cuda(const std::string& what);

}  // namespace elman::detail
