// The two checking macros (STYLE.md "check every call"): a CUDA runtime status and a cuBLAS
// status, each turned into elman::Error naming the call, the status, the file and the line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "elman/error.h"

namespace elman::detail {

// "<api> error: <call> returned <name> (<description>) at <file>:<line>".
[[noreturn]] inline void throw_status_error(const char* api, const char* call, const char* name,
                                            const char* description, const char* file, int line) {
  throw Error(std::string(api) + " error: " + call + " returned " + name + " (" + description +
              ") at " + file + ":" + std::to_string(line));
}

inline void check_status(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess)
    throw_status_error("CUDA", call, cudaGetErrorName(status), cudaGetErrorString(status), file,
                       line);
}

inline void check_status(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw_status_error("cuBLAS", call, cublasGetStatusName(status), cublasGetStatusString(status),
                       file, line);
}

}  // namespace elman::detail

// check_status's overload follows the status type; the two names say which library is called.
#define ELMAN_CUDA_CHECK(call) ::elman::detail::check_status((call), #call, __FILE__, __LINE__)
#define ELMAN_CUBLAS_CHECK(call) ::elman::detail::check_status((call), #call, __FILE__, __LINE__)

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
