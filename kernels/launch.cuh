// The one generic launcher: runs any functor op (kernels/functor_op.h, either form) on a CUDA
// stream with a grid-stride loop. Launch policy (block and grid size) lives here and nowhere else.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "host/backend.h"
#include "kernels/cuda_check.cuh"
#include "kernels/functor_op.h"

namespace elman::detail {

template <typename Op>
__global__ void elementwise_kernel(Op op, int64_t n, int64_t cols) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    run_element(op, i, cols);
}

template <typename Op>
void launch_cuda(const Op& op, cudaStream_t stream) {
  const int64_t n = elements_of(op);
  if (n == 0) return;
  constexpr int kBlock = 256;
  // Enough blocks to fill the GPU several times over; the grid-stride loop covers the rest.
  const int64_t blocks = std::min<int64_t>((n + kBlock - 1) / kBlock, 65535);
  elementwise_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(op, n, cols_of(op));
  ELMAN_CHECK_LAUNCH();
}

}  // namespace elman::detail
