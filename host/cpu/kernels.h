// The CPU's SIMD kernels as a table of plain functions, one table per instruction set
// (baseline SSE2, AVX2+FMA, AVX-512), picked at run time from what the processor supports.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/step_ops.h"  // Activation

namespace elman::detail::cpu {

// Every matrix is row-major with the given row stride (ld); "rows" index the batch (b), columns
// the hidden units (j or k). Each kernel touches only the columns [col_begin, col_end) of its
// output, so threads can own disjoint column ranges of one step.
struct Kernels {
  const char* name;  // "baseline", "avx2", "avx512"
  int width;         // floats per vector

  // y[b][j] (+)= sum_k w[j][k] x[b][k] for b < rows, j in [col_begin, col_end): y += x w^T
  // (overwrite when !accumulate). w: [*, k] stride ldw; x: [rows, k] stride ldx.
  void (*dot_products)(const float* w, int64_t ldw, int64_t k, const float* x, int64_t ldx,
                       int64_t rows, float* y, int64_t ldy, int64_t col_begin, int64_t col_end,
                       bool accumulate);
  // g[b][k] (+)= sum_j d[b][j] w[j][k] for b < rows, k in [col_begin, col_end): g (+)= d w
  // (overwrite when !accumulate). w: [inner, *] stride ldw; d: [rows, inner] stride ldd.
  void (*transposed_products)(const float* w, int64_t ldw, int64_t inner, const float* d,
                              int64_t ldd, int64_t rows, float* g, int64_t ldg, int64_t col_begin,
                              int64_t col_end, bool accumulate);
  // h[b][j] = f(a[b][j] + (b_ih[j] + b_hh[j])) (no bias when b_ih is nullptr): DESIGN.md §1's
  // h_t = f(a_t), summed in ForwardStep's order.
  void (*activate)(const float* a, int64_t lda, const float* b_ih, const float* b_hh, float* h,
                   int64_t ldh, int64_t rows, int64_t col_begin, int64_t col_end, Activation act);
  // delta[b][k] = (dy[b][k] + g[b][k]) * f'(a), f' from the output h: DESIGN.md §1's delta_t.
  void (*delta)(const float* dy, int64_t lddy, const float* g, int64_t ldg, const float* h,
                int64_t ldh, float* delta, int64_t ld_delta, int64_t rows, int64_t col_begin,
                int64_t col_end, Activation act);
};

enum class Isa { kBaseline, kAvx2, kAvx512 };

// The table of `isa`, or nullptr when this build or this processor lacks it.
const Kernels* kernels_for(Isa isa);
// The widest instruction set this processor supports (kBaseline at least).
Isa best_isa();
std::string isa_name(Isa isa);

// One table per translation unit, each compiled for its instruction set (kernels_<isa>.cpp).
const Kernels& baseline_kernels();
#if defined(__x86_64__)
const Kernels* avx2_kernels();
const Kernels* avx512_kernels();
#else  // not built (CMakeLists.txt): no table
inline const Kernels* avx2_kernels() { return nullptr; }
inline const Kernels* avx512_kernels() { return nullptr; }
#endif

}  // namespace elman::detail::cpu
