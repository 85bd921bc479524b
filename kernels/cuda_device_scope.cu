// CudaDeviceScope: the context's device made current for one entry point, the caller's restored
// after it (kernels/cuda_api.h says why every entry point needs one).
#include <string>

#include "kernels/cuda_api.h"
#include "kernels/cuda_check.cuh"

namespace elman::detail {

CudaDeviceScope::CudaDeviceScope(int device) {
  int current = -1;
  ELMAN_CUDA_CHECK(cudaGetDevice(&current));
  if (current == device) return;
  const cudaError_t status = cudaSetDevice(device);
  if (status != cudaSuccess) {
    cudaGetLastError();  // an invalid device index is not sticky
    throw Error("CUDA error: cannot make cuda:" + std::to_string(device) + " current (" +
                cudaGetErrorName(status) + ": " + cudaGetErrorString(status) + ")");
  }
  previous_ = current;
}

CudaDeviceScope::~CudaDeviceScope() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

}  // namespace elman::detail
