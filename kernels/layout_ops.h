// Element-wise data movement as functors: fill, strided row copies, batch/time transposes,
// and axpy. Same functor on both backends (DESIGN.md §2: one kernel body, two launchers).
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace elman::detail {

struct Fill {
  float* dst;
  int64_t n;
  float value;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const { dst[i] = value; }
};

// dst[r, c] = src[r, c] for a rows x cols matrix with row strides ld_src, ld_dst.
struct CopyRows {
  const float* src;
  float* dst;
  int64_t n_rows, n_cols, ld_src, ld_dst;
  int64_t size() const { return n_rows * n_cols; }
  int64_t rows() const { return n_rows; }
  int64_t cols() const { return n_cols; }
  ELMAN_HD void operator()(int64_t i) const { at(i / n_cols, i % n_cols); }
  ELMAN_HD void at(int64_t r, int64_t c) const { dst[r * ld_dst + c] = src[r * ld_src + c]; }
};

// [outer, inner, features] -> [inner, outer, features]: batch_first <-> time-major.
struct SwapLeadingDims {
  const float* src;  // [outer, inner, features]
  float* dst;        // [inner, outer, features]
  int64_t outer, inner, features;
  int64_t size() const { return outer * inner * features; }
  int64_t rows() const { return outer * inner; }
  int64_t cols() const { return features; }
  ELMAN_HD void operator()(int64_t i) const { at(i / features, i % features); }
  ELMAN_HD void at(int64_t row, int64_t f) const {  // row = o * inner + n
    const int64_t n = row % inner, o = row / inner;
    dst[(n * outer + o) * features + f] = src[row * features + f];
  }
};

// y[i] += alpha * x[i]
struct Axpy {
  const float* x;
  float* y;
  int64_t n;
  float alpha;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const { y[i] += alpha * x[i]; }
};

}  // namespace elman::detail
