// The CUDA side of the GPU recurrences: their launchers (kernels/block_kernel.cuh) and the
// limits of the device they plan for.
#include "kernels/block_kernel.cuh"
#include "kernels/recurrence_kernels.h"

namespace elman::detail {

void launch_cuda(const ForwardRecurrenceKernel& k, CUstream_st* stream) {
  launch_block_kernel(k, stream);
}

void launch_cuda(const BackwardRecurrenceKernel& k, CUstream_st* stream) {
  launch_block_kernel(k, stream);
}

GpuLimits cuda_gpu_limits(int device) {
  int sms = 0, shared = 0;
  ELMAN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  ELMAN_CUDA_CHECK(
      cudaDeviceGetAttribute(&shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return GpuLimits{sms, GpuLimits::kH200.threads, shared};
}

}  // namespace elman::detail
