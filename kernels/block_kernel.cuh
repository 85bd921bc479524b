// The CUDA launcher of a block-level kernel (kernels/block_kernel.h): the whole body as one
// __global__, a cooperative launch when a grid barrier separates two of its phases.
#pragma once

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <string>

#include "elman/error.h"
#include "kernels/block_kernel.h"
#include "kernels/cuda_check.cuh"

namespace elman::detail {

// Grid barrier: cooperative groups' grid.sync(), which orders memory too: writes of any thread
// before it (to global memory) are visible to every thread of the grid after it (it fences at
// device scope on arrival, the release, and after the wait, the acquire).
template <typename K>
__global__ void block_kernel(K k) {
  extern __shared__ float shared[];
  const BlockThread at{static_cast<int>(blockIdx.x), static_cast<int>(threadIdx.x),
                       static_cast<int>(gridDim.x), static_cast<int>(blockDim.x)};
  const int phases = k.phases();
  for (int p = 0; p < phases; ++p) {
    k.run_phase(p, at, shared);
    if (p + 1 == phases) break;
    if (k.barrier_after(p) == Barrier::kGrid)
      cooperative_groups::this_grid().sync();
    else
      __syncthreads();
  }
}

template <typename K>
bool needs_grid_barrier(const K& k) {
  for (int p = 0; p + 1 < k.phases(); ++p)
    if (k.barrier_after(p) == Barrier::kGrid) return true;
  return false;
}

// Launches k on `stream`. A cooperative launch needs every block resident at once: checked
// against the occupancy the device reports, an elman::Error otherwise.
template <typename K>
void launch_block_kernel(const K& k, cudaStream_t stream) {
  const size_t shared_bytes = static_cast<size_t>(k.shared_floats()) * sizeof(float);
  ELMAN_CUDA_CHECK(cudaFuncSetAttribute(block_kernel<K>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(shared_bytes)));
  if (!needs_grid_barrier(k)) {
    block_kernel<K><<<k.blocks, k.threads, shared_bytes, stream>>>(k);
    ELMAN_CHECK_LAUNCH();
    return;
  }
  int device = 0, sms = 0, per_sm = 0;
  ELMAN_CUDA_CHECK(cudaGetDevice(&device));
  ELMAN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  ELMAN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, block_kernel<K>,
                                                                 k.threads, shared_bytes));
  if (per_sm * sms < k.blocks)
    throw Error("launch_block_kernel: a cooperative grid of " + std::to_string(k.blocks) +
                " blocks does not fit on the device at once (" + std::to_string(per_sm) +
                " per SM x " + std::to_string(sms) + " SMs)");
  K copy = k;
  void* args[] = {&copy};
  ELMAN_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(block_kernel<K>),
                                               dim3(k.blocks), dim3(k.threads), args, shared_bytes,
                                               stream));
  ELMAN_CHECK_LAUNCH();
}

}  // namespace elman::detail
