// The trainer's batch gathers as functors (one body, a CPU and a CUDA launcher): the examples of
// a batch picked from the uploaded data set by the epoch's order, a window of their steps at a
// time (truncated BPTT), as features, targets, or token ids as embedding or one-hot rows; and the
// embedding's gradient, accumulated per column in a fixed order.
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace elman::detail {

// Which positions a batch takes from a data set of [examples, stride] positions: row r is
// example e = order[first + r] (first + r without an order), steps [t0, t0 + steps) of it.
// The batch is laid out [rows, steps] (batch first) or, with time_major, [steps, rows].
struct BatchWindow {
  const int32_t* order;  // [examples], or null
  int64_t first, rows, t0, steps, stride;
  bool time_major;
  ELMAN_HD int64_t positions() const { return rows * steps; }
  // The data set position of the batch's p-th position (p in its own layout).
  ELMAN_HD int64_t source(int64_t p) const {
    const int64_t r = time_major ? p % rows : p / steps;
    const int64_t t = time_major ? p / rows : p % steps;
    const int64_t e = order ? static_cast<int64_t>(order[first + r]) : first + r;
    return e * stride + t0 + t;
  }
};

// dst[p, :] = src[source(p), :], `width` values per position: features, values or class ids.
template <typename Value>
struct GatherPositions {
  const Value* src;  // [examples, stride, width]
  Value* dst;        // [positions, width]
  BatchWindow w;
  int64_t width;
  int64_t size() const { return w.positions() * width; }
  ELMAN_HD void operator()(int64_t i) const {
    dst[i] = src[w.source(i / width) * width + i % width];
  }
};
using GatherValues = GatherPositions<float>;
using GatherIds = GatherPositions<int32_t>;

// dst[p, :] = row ids[source(p)] of `weight`, or of the identity when weight is null: token ids
// as embedding rows (Embedding::forward is the window of one row over all positions) or as
// one-hot rows, on the device.
struct GatherTokenRows {
  const float* weight;  // [num_embeddings, dim], or null: one-hot rows of `dim` classes
  const int32_t* ids;   // [examples, stride]
  float* dst;           // [positions, dim]
  BatchWindow w;
  int64_t dim;
  int64_t rows() const { return w.positions(); }
  int64_t cols() const { return dim; }
  ELMAN_HD void at(int64_t p, int64_t c) const {
    const int64_t id = ids[w.source(p)];
    dst[p * dim + c] = weight ? weight[id * dim + c] : (id == c ? 1.0f : 0.0f);
  }
};

// grad_weight[ids[source(p)], c] += grad[p, c] over the batch's positions in order, skipping
// padding_idx (its row's gradient stays 0, as in torch.nn.Embedding). One thread per column c
// walks every position: no two threads add into one element, so the sums need no atomics and
// come out bitwise the same on the CPU and the GPU, run after run.
struct EmbeddingGradAccumulate {
  const int32_t* ids;  // [examples, stride]
  const float* grad;   // [positions, dim]
  float* grad_weight;  // [num_embeddings, dim]
  BatchWindow w;
  int64_t dim;
  int64_t padding_idx;  // -1: none
  int64_t size() const { return dim; }
  ELMAN_HD void operator()(int64_t c) const {
    const int64_t n = w.positions();
    for (int64_t p = 0; p < n; ++p) {
      const int64_t id = ids[w.source(p)];
      if (id != padding_idx) grad_weight[id * dim + c] += grad[p * dim + c];
    }
  }
};

}  // namespace elman::detail
