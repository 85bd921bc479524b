// Element-wise data movement as functors: fill and strided row copies. Same functor on both
// backends (DESIGN.md §2: one kernel body, two launchers).
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
  int64_t rows() const { return n_rows; }
  int64_t cols() const { return n_cols; }
  ELMAN_HD void at(int64_t r, int64_t c) const { dst[r * ld_dst + c] = src[r * ld_src + c]; }
};

}  // namespace elman::detail
