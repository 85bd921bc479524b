// The bodies of the CPU kernels (host/cpu/kernels.h), written once over the SIMD vectors of
// host/cpu/simd.h and compiled once per instruction set by kernels_<isa>.cpp.
#pragma once

#include "host/cpu/kernels.h"
#include "host/cpu/simd_activation.h"

namespace elman::detail::cpu::ELMAN_SIMD_NS {

// ---- y (+)= x w^T: dot products along k, register-blocked ----------------------------------
// One block: J rows of w against R rows of x, J * R = kWidth accumulators (each a vector of
// partial sums along k), reduced at the end into one vector whose lane r * J + j holds
// dot(w_j, x_r). Rows past the matrix point at a valid row; their lanes are ignored.
template <int J, int R>
ELMAN_SIMD_INLINE Vec dot_block(const float* const (&w)[J], const float* const (&x)[R], int64_t k) {
  static_assert(J * R == kWidth, "one accumulator per lane of the result");
  Vec acc[kWidth] = {};
  int64_t i = 0;
  for (; i + kWidth <= k; i += kWidth) {
    Vec wv[J];
    ELMAN_UNROLL
    for (int j = 0; j < J; ++j) wv[j] = load(w[j] + i);
    ELMAN_UNROLL
    for (int r = 0; r < R; ++r) {
      const Vec xv = load(x[r] + i);
      ELMAN_UNROLL
      for (int j = 0; j < J; ++j) acc[r * J + j] += wv[j] * xv;
    }
  }
  if (i < k) {  // the last k % kWidth columns, zero-padded
    const int n = static_cast<int>(k - i);
    Vec wv[J];
    ELMAN_UNROLL
    for (int j = 0; j < J; ++j) wv[j] = load_partial(w[j] + i, n);
    ELMAN_UNROLL
    for (int r = 0; r < R; ++r) {
      const Vec xv = load_partial(x[r] + i, n);
      ELMAN_UNROLL
      for (int j = 0; j < J; ++j) acc[r * J + j] += wv[j] * xv;
    }
  }
  return sum_each(acc);
}

// y[row .. row + R)[c .. c + J) (+)= the block's dot products; rows and columns past the ends
// (row_end, col_end) are computed on a repeated valid row and not stored.
template <int J, int R>
ELMAN_SIMD_INLINE void dot_block_store(const float* w, int64_t ldw, int64_t k, const float* x,
                                       int64_t ldx, int64_t row, int64_t row_end, float* y,
                                       int64_t ldy, int64_t c, int64_t col_end, bool accumulate) {
  const int r_valid = static_cast<int>(row_end - row < R ? row_end - row : R);
  const int j_valid = static_cast<int>(col_end - c < J ? col_end - c : J);
  const float* xr[R];
  ELMAN_UNROLL
  for (int r = 0; r < R; ++r) xr[r] = x + (row + (r < r_valid ? r : 0)) * ldx;
  const float* wj[J];
  ELMAN_UNROLL
  for (int j = 0; j < J; ++j) wj[j] = w + (c + (j < j_valid ? j : 0)) * ldw;
  float sums[kWidth];
  store(sums, dot_block<J, R>(wj, xr, k));
  for (int r = 0; r < r_valid; ++r) {
    float* yr = y + (row + r) * ldy + c;
    for (int j = 0; j < j_valid; ++j) yr[j] = (accumulate ? yr[j] : 0.0f) + sums[r * J + j];
  }
}

inline void dot_products(const float* w, int64_t ldw, int64_t k, const float* x, int64_t ldx,
                         int64_t rows, float* y, int64_t ldy, int64_t col_begin, int64_t col_end,
                         bool accumulate) {
  // Columns outside, rows inside: each block of w's rows is read from memory once and serves
  // every row of x from cache. Several rows of x share each load of w (4 rows of w by kWidth/4
  // of x); a lone row takes kWidth rows of w, so the block still has kWidth accumulators.
  if (rows == 1) {
    for (int64_t c = col_begin; c < col_end; c += kWidth)
      dot_block_store<kWidth, 1>(w, ldw, k, x, ldx, 0, 1, y, ldy, c, col_end, accumulate);
    return;
  }
  constexpr int kRows = kWidth / 4;
  for (int64_t c = col_begin; c < col_end; c += 4)
    for (int64_t row = 0; row < rows; row += kRows)
      dot_block_store<4, kRows>(w, ldw, k, x, ldx, row, rows, y, ldy, c, col_end, accumulate);
}

// ---- g (+)= d w: rows of w scaled by d and summed (outer products), register-blocked -------
// One block: R rows of g by V vectors of columns, R * V accumulators; per inner index j one
// load of w's row segment serves all R rows.
template <int R, int V>
ELMAN_SIMD_INLINE void outer_block(const float* w, int64_t ldw, int64_t inner,
                                   const float* const (&d)[R], float* const (&g)[R], int64_t col,
                                   bool accumulate) {
  Vec acc[R][V] = {};
  for (int64_t j = 0; j < inner; ++j) {
    Vec wv[V];
    ELMAN_UNROLL
    for (int v = 0; v < V; ++v) wv[v] = load(w + j * ldw + col + v * kWidth);
    ELMAN_UNROLL
    for (int r = 0; r < R; ++r) {
      const Vec dv = splat(d[r][j]);
      ELMAN_UNROLL
      for (int v = 0; v < V; ++v) acc[r][v] += wv[v] * dv;
    }
  }
  ELMAN_UNROLL
  for (int r = 0; r < R; ++r) {
    ELMAN_UNROLL
    for (int v = 0; v < V; ++v) {
      float* out = g[r] + col + v * kWidth;
      store(out, accumulate ? load(out) + acc[r][v] : acc[r][v]);
    }
  }
}

// Columns [c, c + V * kWidth) of rows [row, row + R) of g.
template <int R, int V>
ELMAN_SIMD_INLINE void outer_rows(const float* w, int64_t ldw, int64_t inner, const float* d,
                                  int64_t ldd, int64_t row, float* g, int64_t ldg, int64_t c,
                                  bool accumulate) {
  const float* dr[R];
  float* gr[R];
  ELMAN_UNROLL
  for (int r = 0; r < R; ++r) {
    dr[r] = d + (row + r) * ldd;
    gr[r] = g + (row + r) * ldg;
  }
  outer_block<R, V>(w, ldw, inner, dr, gr, c, accumulate);
}

// Rows in blocks of 6, the last 7 to 11 as two blocks of 3 to 6 (not 6 and a slow 1 to 5).
template <typename F>
ELMAN_SIMD_INLINE void for_row_blocks(int64_t rows, F&& f) {
  for (int64_t row = 0; row < rows;) {
    const int64_t left = rows - row;
    const int r = static_cast<int>(left >= 12 ? 6 : (left > 6 ? (left + 1) / 2 : left));
    f(row, r);
    row += r;
  }
}

// Every row block at columns [c, c + V * kWidth).
template <int V>
void outer_column_block(const float* w, int64_t ldw, int64_t inner, const float* d, int64_t ldd,
                        int64_t rows, float* g, int64_t ldg, int64_t c, bool accumulate) {
  for_row_blocks(rows, [&](int64_t row, int r) {
    switch (r) {
      case 6:
        return outer_rows<6, V>(w, ldw, inner, d, ldd, row, g, ldg, c, accumulate);
      case 5:
        return outer_rows<5, V>(w, ldw, inner, d, ldd, row, g, ldg, c, accumulate);
      case 4:
        return outer_rows<4, V>(w, ldw, inner, d, ldd, row, g, ldg, c, accumulate);
      case 3:
        return outer_rows<3, V>(w, ldw, inner, d, ldd, row, g, ldg, c, accumulate);
      case 2:
        return outer_rows<2, V>(w, ldw, inner, d, ldd, row, g, ldg, c, accumulate);
      default:
        return outer_rows<1, V>(w, ldw, inner, d, ldd, row, g, ldg, c, accumulate);
    }
  });
}

// Columns [c, col_end) with V vectors per block while they fill one, then single vectors, then
// the last columns scalar.
template <int V>
void outer_columns(const float* w, int64_t ldw, int64_t inner, const float* d, int64_t ldd,
                   int64_t rows, float* g, int64_t ldg, int64_t c, int64_t col_end,
                   bool accumulate) {
  for (; c + V * kWidth <= col_end; c += V * kWidth)
    outer_column_block<V>(w, ldw, inner, d, ldd, rows, g, ldg, c, accumulate);
  for (; c + kWidth <= col_end; c += kWidth)
    outer_column_block<1>(w, ldw, inner, d, ldd, rows, g, ldg, c, accumulate);
  for (; c < col_end; ++c)
    for (int64_t r = 0; r < rows; ++r) {
      float s = 0.0f;
      for (int64_t j = 0; j < inner; ++j) s += d[r * ldd + j] * w[j * ldw + c];
      g[r * ldg + c] = accumulate ? g[r * ldg + c] + s : s;
    }
}

inline void transposed_products(const float* w, int64_t ldw, int64_t inner, const float* d,
                                int64_t ldd, int64_t rows, float* g, int64_t ldg, int64_t col_begin,
                                int64_t col_end, bool accumulate) {
  // Columns outside, rows inside: a column block of w (inner x V vectors) is read from memory
  // once and serves every row block from cache. Fewer rows take wider blocks: 8 to 12
  // independent accumulators in every case, enough to keep two FMA units busy.
  if (rows >= 4)
    outer_columns<2>(w, ldw, inner, d, ldd, rows, g, ldg, col_begin, col_end, accumulate);
  else if (rows == 3)
    outer_columns<3>(w, ldw, inner, d, ldd, rows, g, ldg, col_begin, col_end, accumulate);
  else if (rows == 2)
    outer_columns<4>(w, ldw, inner, d, ldd, rows, g, ldg, col_begin, col_end, accumulate);
  else
    outer_columns<8>(w, ldw, inner, d, ldd, rows, g, ldg, col_begin, col_end, accumulate);
}

// ---- element-wise: the activation and delta ------------------------------------------------
// f(x) over columns [col_begin, col_end) of each row, the last partial vector zero-padded.
template <typename F>
ELMAN_SIMD_INLINE void for_columns(int64_t col_begin, int64_t col_end, F&& f) {
  int64_t c = col_begin;
  for (; c + kWidth <= col_end; c += kWidth) f(c, kWidth);
  if (c < col_end) f(c, static_cast<int>(col_end - c));
}

ELMAN_SIMD_INLINE Vec load_n(const float* p, int n) {
  return n == kWidth ? load(p) : load_partial(p, n);
}
ELMAN_SIMD_INLINE void store_n(float* p, Vec v, int n) {
  if (n == kWidth)
    store(p, v);
  else
    store_partial(p, v, n);
}

template <Activation kAct>
void activate_rows(const float* a, int64_t lda, const float* b_ih, const float* b_hh, float* h,
                   int64_t ldh, int64_t rows, int64_t col_begin, int64_t col_end) {
  for (int64_t r = 0; r < rows; ++r)
    for_columns(col_begin, col_end, [&](int64_t c, int n) {
      Vec v = load_n(a + r * lda + c, n);
      if (b_ih) v += load_n(b_ih + c, n) + load_n(b_hh + c, n);
      store_n(h + r * ldh + c, kAct == Activation::kTanh ? tanh(v) : relu(v), n);
    });
}

inline void activate(const float* a, int64_t lda, const float* b_ih, const float* b_hh, float* h,
                     int64_t ldh, int64_t rows, int64_t col_begin, int64_t col_end,
                     Activation act) {
  if (act == Activation::kTanh)
    activate_rows<Activation::kTanh>(a, lda, b_ih, b_hh, h, ldh, rows, col_begin, col_end);
  else
    activate_rows<Activation::kReLU>(a, lda, b_ih, b_hh, h, ldh, rows, col_begin, col_end);
}

template <Activation kAct>
void delta_rows(const float* dy, int64_t lddy, const float* g, int64_t ldg, const float* h,
                int64_t ldh, float* delta, int64_t ld_delta, int64_t rows, int64_t col_begin,
                int64_t col_end) {
  for (int64_t r = 0; r < rows; ++r)
    for_columns(col_begin, col_end, [&](int64_t c, int n) {
      const Vec grad = load_n(dy + r * lddy + c, n) + load_n(g + r * ldg + c, n);
      const Vec hv = load_n(h + r * ldh + c, n);
      store_n(delta + r * ld_delta + c,
              kAct == Activation::kTanh ? tanh_backward(grad, hv) : relu_backward(grad, hv), n);
    });
}

inline void delta(const float* dy, int64_t lddy, const float* g, int64_t ldg, const float* h,
                  int64_t ldh, float* delta, int64_t ld_delta, int64_t rows, int64_t col_begin,
                  int64_t col_end, Activation act) {
  if (act == Activation::kTanh)
    delta_rows<Activation::kTanh>(dy, lddy, g, ldg, h, ldh, delta, ld_delta, rows, col_begin,
                                  col_end);
  else
    delta_rows<Activation::kReLU>(dy, lddy, g, ldg, h, ldh, delta, ld_delta, rows, col_begin,
                                  col_end);
}

// This instruction set's table, `name` as isa_name() spells it.
inline const Kernels& table(const char* name) {
  static const Kernels kernels{name,      kWidth, &dot_products, &transposed_products,
                               &activate, &delta};
  return kernels;
}

}  // namespace elman::detail::cpu::ELMAN_SIMD_NS
