// The host-side CUDA API (kernels/cuda_api.h) of a CPU-only build (ELMAN_WITH_CUDA=OFF): no
// device is ever present, and whatever would need one throws an Error saying CUDA is not built in.
#include <string>

#include "elman/error.h"
#include "host/backend.h"
#include "kernels/cuda_api.h"

namespace elman::detail {

void throw_built_without_cuda(const std::string& what) {
  throw Error(what +
              ": this elman was built without CUDA (ELMAN_WITH_CUDA=OFF, or no CUDA compiler at "
              "configure time); use Device::cpu()");
}

bool cuda_built_in() { return false; }

int cuda_device_count_or_zero() { return 0; }

// Even a zero-byte request fails: no tensor on a CUDA device can exist in this build.
void* cuda_allocate(size_t bytes, int device) {
  throw_built_without_cuda("cuda_allocate: " + std::to_string(bytes) +
                           " bytes on cuda:" + std::to_string(device));
}

void* cuda_allocate_async(size_t bytes, int device, CUstream_st*) {
  throw_built_without_cuda("cuda_allocate_async: " + std::to_string(bytes) +
                           " bytes on cuda:" + std::to_string(device));
}

// Nothing was ever allocated, so there is nothing to free.
void cuda_free(void*, int) noexcept {}
void cuda_free_async(void*, int, CUstream_st*) noexcept {}

void cuda_copy(void*, const void*, size_t bytes, bool, bool) {
  throw_built_without_cuda("cuda_copy: " + std::to_string(bytes) +
                           " bytes to or from a CUDA device");
}

void cuda_fill_float(float*, size_t n, float, int device) {
  throw_built_without_cuda("cuda_fill_float: " + std::to_string(n) +
                           " floats on cuda:" + std::to_string(device));
}

CudaDeviceScope::CudaDeviceScope(int device) {
  throw_built_without_cuda("CudaDeviceScope: cuda:" + std::to_string(device));
}
CudaDeviceScope::~CudaDeviceScope() = default;

std::unique_ptr<Backend> make_cuda_backend(int device, CUstream_st*) {
  throw_built_without_cuda("make_cuda_backend: cuda:" + std::to_string(device));
}

}  // namespace elman::detail
