// Device memory and copies for elman::Tensor, each CUDA status checked.
#include <sstream>

#include "kernels/cuda_api.h"
#include "kernels/cuda_check.cuh"
#include "kernels/launch.cuh"
#include "kernels/layout_ops.h"

namespace elman::detail {

bool cuda_built_in() { return true; }

int cuda_device_count_or_zero() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" status; absence is not an error here
    return 0;
  }
  return count;
}

void* cuda_allocate(size_t bytes, int device) {
  if (bytes == 0) return nullptr;
  ELMAN_CUDA_CHECK(cudaSetDevice(device));
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky: clear it so the next call works
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    std::ostringstream os;
    os << "cuda_allocate: could not allocate " << bytes << " bytes on cuda:" << device << " ("
       << cudaGetErrorString(status) << "; " << free_bytes << " of " << total_bytes
       << " bytes free)";
    throw Error(os.str());
  }
  return ptr;
}

void cuda_free(void* ptr, int device) noexcept {
  if (!ptr) return;
  cudaSetDevice(device);
  cudaFree(ptr);
}

void cuda_copy(void* dst, const void* src, size_t bytes, bool dst_on_device, bool src_on_device) {
  if (bytes == 0) return;
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
  const cudaMemcpyKind kind =
      dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                    : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  ELMAN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
}

void cuda_fill_float(float* dst, size_t n, float value, int device) {
  if (n == 0) return;
  ELMAN_CUDA_CHECK(cudaSetDevice(device));
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
  launch_cuda(Fill{dst, static_cast<int64_t>(n), value}, nullptr);
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace elman::detail
