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

// Rows [row, row + R) of y, columns [col_begin, col_end) in blocks of J.
template <int J, int R>
void dot_rows(const float* w, int64_t ldw, int64_t k, const float* x, int64_t ldx, int64_t row,
              int64_t rows, float* y, int64_t ldy, int64_t col_begin, int64_t col_end,
              bool accumulate) {
  const int r_valid = static_cast<int>(rows - row < R ? rows - row : R);
  const float* xr[R];
  ELMAN_UNROLL
  for (int r = 0; r < R; ++r) xr[r] = x + (row + (r < r_valid ? r : 0)) * ldx;
  for (int64_t c = col_begin; c < col_end; c += J) {
    const int j_valid = static_cast<int>(col_end - c < J ? col_end - c : J);
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
}

inline void dot_products(const float* w, int64_t ldw, int64_t k, const float* x, int64_t ldx,
                         int64_t rows, float* y, int64_t ldy, int64_t col_begin, int64_t col_end,
                         bool accumulate) {
  // Several rows of x share each load of w (4 rows of w by kWidth/4 of x); a lone row of x
  // takes kWidth rows of w instead, so the block still has kWidth independent accumulators.
  constexpr int kRows = kWidth / 4;
  int64_t row = 0;
  if (rows > 1)
    for (; row + kRows <= rows || (row < rows && rows - row > 1); row += kRows)
      dot_rows<4, kRows>(w, ldw, k, x, ldx, row, rows, y, ldy, col_begin, col_end, accumulate);
  for (; row < rows; ++row)
    dot_rows<kWidth, 1>(w, ldw, k, x, ldx, row, rows, y, ldy, col_begin, col_end, accumulate);
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

template <int R>
void outer_rows(const float* w, int64_t ldw, int64_t inner, const float* d, int64_t ldd,
                int64_t row, float* g, int64_t ldg, int64_t col_begin, int64_t col_end,
                bool accumulate) {
  const float* dr[R];
  float* gr[R];
  ELMAN_UNROLL
  for (int r = 0; r < R; ++r) {
    dr[r] = d + (row + r) * ldd;
    gr[r] = g + (row + r) * ldg;
  }
  // Fewer rows take wider blocks: about 8 to 12 independent accumulators in every case, enough
  // to keep two FMA units busy through their latency.
  constexpr int kWide = R >= 4 ? 2 : (R == 3 ? 3 : (R == 2 ? 4 : 8));
  int64_t c = col_begin;
  for (; c + kWide * kWidth <= col_end; c += kWide * kWidth)
    outer_block<R, kWide>(w, ldw, inner, dr, gr, c, accumulate);
  for (; c + kWidth <= col_end; c += kWidth)
    outer_block<R, 1>(w, ldw, inner, dr, gr, c, accumulate);
  for (; c < col_end; ++c) {  // fewer than kWidth columns left: scalar
    ELMAN_UNROLL
    for (int r = 0; r < R; ++r) {
      float s = 0.0f;
      for (int64_t j = 0; j < inner; ++j) s += dr[r][j] * w[j * ldw + c];
      gr[r][c] = accumulate ? gr[r][c] + s : s;
    }
  }
}

inline void transposed_products(const float* w, int64_t ldw, int64_t inner, const float* d,
                                int64_t ldd, int64_t rows, float* g, int64_t ldg, int64_t col_begin,
                                int64_t col_end, bool accumulate) {
  // Blocks of 6 rows, the last 7 to 11 rows as two blocks of 3 to 6 (not 6 and a slow 1 to 5).
  int64_t row = 0;
  while (row < rows) {
    const int64_t left = rows - row;
    const int r = static_cast<int>(left >= 12 ? 6 : (left > 6 ? (left + 1) / 2 : left));
    switch (r) {
      case 6:
        outer_rows<6>(w, ldw, inner, d, ldd, row, g, ldg, col_begin, col_end, accumulate);
        break;
      case 5:
        outer_rows<5>(w, ldw, inner, d, ldd, row, g, ldg, col_begin, col_end, accumulate);
        break;
      case 4:
        outer_rows<4>(w, ldw, inner, d, ldd, row, g, ldg, col_begin, col_end, accumulate);
        break;
      case 3:
        outer_rows<3>(w, ldw, inner, d, ldd, row, g, ldg, col_begin, col_end, accumulate);
        break;
      case 2:
        outer_rows<2>(w, ldw, inner, d, ldd, row, g, ldg, col_begin, col_end, accumulate);
        break;
      default:
        outer_rows<1>(w, ldw, inner, d, ldd, row, g, ldg, col_begin, col_end, accumulate);
        break;
    }
    row += r;
  }
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

inline Kernels make_kernels(const char* name) {
  return Kernels{name, kWidth, &dot_products, &transposed_products, &activate, &delta};
}

}  // namespace elman::detail::cpu::ELMAN_SIMD_NS
