// How the GPU recurrences (the fused step and the persistent recurrence) split a layer's hidden
// units among blocks and threads, and whether a shape fits a GPU's shared memory at all.
#pragma once

#include <cstdint>

namespace elman::detail {

// What a plan needs to know of the GPU. kH200 is the target (sm_90: 132 SMs, 227 KB of shared
// memory per block with the opt-in); the CUDA launcher queries the device it runs on.
struct GpuLimits {
  int sms;               // streaming multiprocessors: a persistent grid has at most one block each
  int threads;           // threads per block the kernels use
  int64_t shared_bytes;  // shared memory one block may have
  static const GpuLimits kH200;
};
inline const GpuLimits GpuLimits::kH200{132, 256, 227 * 1024};

// Block i owns hidden units [i * cols, min(H, (i + 1) * cols)); `splits` threads share each of
// its dot products (partial sums reduced in the next phase). weights_on_chip: the block keeps its
// slice of W_hh (W_hh^T for backward) in shared memory for the whole launch (persistent).
struct RecurrencePlan {
  bool fits = false;  // false: the shape exceeds the GPU's shared memory; use another algorithm
  int blocks = 0, threads = 0;
  int64_t cols = 0, splits = 0;
  bool weights_on_chip = false;
  int64_t shared_floats = 0;  // per block: [cols, H] weights (on chip), [B, H] rows, partials
};

// One block per SM at most (a persistent grid must be co-resident), as few columns per block as
// that allows; threads split each dot product as far as the block's threads go. Shared memory
// holds the block's weights (when on chip), the B rows of h_{t-1} (delta_t for backward) and one
// partial sum per thread of each dot product.
inline RecurrencePlan plan_recurrence(int64_t batch, int64_t hidden, const GpuLimits& gpu,
                                      bool weights_on_chip) {
  RecurrencePlan p;
  p.cols = (hidden + gpu.sms - 1) / gpu.sms;
  p.blocks = static_cast<int>((hidden + p.cols - 1) / p.cols);
  p.threads = gpu.threads;
  const int64_t outputs = batch * p.cols;  // dot products per block and step
  p.splits = outputs >= gpu.threads ? 1 : gpu.threads / outputs;
  if (p.splits > hidden) p.splits = hidden;
  p.weights_on_chip = weights_on_chip;
  p.shared_floats = (weights_on_chip ? p.cols * hidden : 0) + batch * hidden + outputs * p.splits;
  p.fits = p.shared_floats * static_cast<int64_t>(sizeof(float)) <= gpu.shared_bytes;
  return p;
}

}  // namespace elman::detail
