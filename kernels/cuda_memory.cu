// Device memory and copies for elman::Tensor, each CUDA status checked.
#include <sstream>

#include "kernels/copy_ops.h"
#include "kernels/cuda_api.h"
#include "kernels/cuda_check.cuh"
#include "kernels/launch.cuh"

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

namespace {

[[noreturn]] void throw_allocation_error(cudaError_t status, size_t bytes, int device) {
  cudaGetLastError();  // an allocation failure is not sticky: clear it so the next call works
  size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  std::ostringstream os;
  os << "cuda_allocate: could not allocate " << bytes << " bytes on cuda:" << device << " ("
     << cudaGetErrorString(status) << "; " << free_bytes << " of " << total_bytes << " bytes free)";
  throw Error(os.str());
}

}  // namespace

void* cuda_allocate(size_t bytes, int device) {
  if (bytes == 0) return nullptr;
  const CudaDeviceScope on_device(device);
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status != cudaSuccess) throw_allocation_error(status, bytes, device);
  return ptr;
}

void* cuda_allocate_async(size_t bytes, int device, CUstream_st* stream) {
  if (bytes == 0) return nullptr;
  const CudaDeviceScope on_device(device);
  // Keep what is freed in the pool (the default threshold, 0, hands it back to the driver at
  // every synchronisation, and the next growth would pay for a fresh allocation).
  cudaMemPool_t pool = nullptr;
  ELMAN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t keep_all = UINT64_MAX;
  ELMAN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  void* ptr = nullptr;
  const cudaError_t status = cudaMallocAsync(&ptr, bytes, stream);
  if (status != cudaSuccess) throw_allocation_error(status, bytes, device);
  return ptr;
}

void cuda_free_async(void* ptr, int device, CUstream_st* stream) noexcept {
  if (!ptr) return;
  try {
    const CudaDeviceScope on_device(device);
    cudaFreeAsync(ptr, stream);
  } catch (const Error&) {
    // The device cannot be made current: its context is gone, and the memory with it.
  }
}

void cuda_free(void* ptr, int device) noexcept {
  if (!ptr) return;
  try {
    const CudaDeviceScope on_device(device);
    cudaFree(ptr);
  } catch (const Error&) {
    // The device cannot be made current: its context is gone, and the memory with it.
  }
}

namespace {

// The device that owns device memory `ptr` (cudaMalloc'd by cuda_allocate).
int device_of(const void* ptr) {
  cudaPointerAttributes attributes{};
  ELMAN_CUDA_CHECK(cudaPointerGetAttributes(&attributes, ptr));
  return attributes.device;
}

// Waits for all work queued on `device`, with it current.
void synchronize_device(int device) {
  const CudaDeviceScope on_device(device);
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace

void cuda_copy(void* dst, const void* src, size_t bytes, bool dst_on_device, bool src_on_device) {
  if (bytes == 0) return;
  // Every device involved: the destination's, and the source's when it is another one.
  const int dst_device = dst_on_device ? device_of(dst) : -1;
  const int src_device = src_on_device ? device_of(src) : -1;
  const int first = dst_device >= 0 ? dst_device : src_device;
  const int second = src_device >= 0 && src_device != first ? src_device : -1;
  if (first < 0) {  // host to host: nothing queued to wait for
    ELMAN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToHost));
    return;
  }
  synchronize_device(first);
  if (second >= 0) synchronize_device(second);
  const cudaMemcpyKind kind =
      dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                    : cudaMemcpyDeviceToHost;
  {
    const CudaDeviceScope on_device(first);
    ELMAN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
  }
  synchronize_device(first);
  if (second >= 0) synchronize_device(second);
}

void cuda_fill_float(float* dst, size_t n, float value, int device) {
  if (n == 0) return;
  const CudaDeviceScope on_device(device);
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
  launch_cuda(Fill{dst, static_cast<int64_t>(n), value}, nullptr);
  ELMAN_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace elman::detail
