// The two checking macros (STYLE.md "check every call"): a CUDA runtime status and a cuBLAS
// status, each turned into elman::Error naming the call, the status, the file and the line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "elman/error.h"

namespace elman::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                          int line) {
  throw Error(std::string("CUDA error: ") + call + " returned " + cudaGetErrorName(status) + " (" +
              cudaGetErrorString(status) + ") at " + file + ":" + std::to_string(line));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call,
                                            const char* file, int line) {
  throw Error(std::string("cuBLAS error: ") + call + " returned " + cublasGetStatusName(status) +
              " (" + cublasGetStatusString(status) + ") at " + file + ":" + std::to_string(line));
}

}  // namespace elman::detail

#define ELMAN_CUDA_CHECK(call)                                                     \
  do {                                                                             \
    cudaError_t elman_status_ = (call);                                            \
    if (elman_status_ != cudaSuccess)                                              \
      ::elman::detail::throw_cuda_error(elman_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define ELMAN_CUBLAS_CHECK(call)                                                     \
  do {                                                                               \
    cublasStatus_t elman_status_ = (call);                                           \
    if (elman_status_ != CUBLAS_STATUS_SUCCESS)                                      \
      ::elman::detail::throw_cublas_error(elman_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors always; execution errors in debug builds
// (a device sync there), at the next synchronisation point otherwise.
#ifdef NDEBUG
#define ELMAN_CHECK_LAUNCH() ELMAN_CUDA_CHECK(cudaGetLastError())
#else
#define ELMAN_CHECK_LAUNCH()                   \
  do {                                         \
    ELMAN_CUDA_CHECK(cudaGetLastError());      \
    ELMAN_CUDA_CHECK(cudaDeviceSynchronize()); \
  } while (0)
#endif
