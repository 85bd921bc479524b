// The plain-C++ face of the CUDA code: what host files may call without CUDA's headers.
// Implemented in cuda_memory.cu and cuda_backend.cu; in a CPU-only build by cuda_unavailable.cpp.
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
// Synchronous copies between host and device, or device and device (device-wide sync first,
// so they are ordered after all queued work on every stream).
void cuda_copy(void* dst, const void* src, size_t bytes, bool dst_on_device, bool src_on_device);
void cuda_fill_float(float* dst, size_t n, float value, int device);

std::unique_ptr<Backend> make_cuda_backend(int device, CUstream_st* stream);

// CPU-only builds: throws the Error that says `what` needs CUDA, which this library lacks.
[[noreturn]] void throw_built_without_cuda(const std::string& what);

}  // namespace elman::detail
