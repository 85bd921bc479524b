// The matrix products of DESIGN.md §1, named by what they compute in row-major terms, each one
// line over the backend's column-major GEMM (so no caller translates shapes into BLAS arguments).
// Matrices are row-major [rows, cols] with the given row stride; every product covers `rows`
// rows of the batch-like dimension (T * B, or the sequences running at one step).
#pragma once

#include "host/backend.h"

namespace elman::detail {

// pre[r, :] (+)= W_ih x[r, :] for r < rows: pre [rows, H] (+)= x [rows, I] W_ih^T, W_ih [H, I]
// (also nn.Linear's y = x W^T, added to its bias).
inline void input_projection(Backend& be, float* pre, const float* x, int64_t ld_x,
                             const float* w_ih, int64_t rows, int64_t I, int64_t H,
                             bool accumulate = false) {
  be.gemm(Trans::kT, Trans::kN, H, rows, I, 1.0f, w_ih, I, x, ld_x, accumulate ? 1.0f : 0.0f, pre,
          H);
}

// pre_t[b, :] += W_hh h_{t-1}[b, :]: pre_t [rows, H] += h_prev [rows, H] W_hh^T.
inline void recurrent_product(Backend& be, float* pre_t, int64_t ld_pre, const float* h_prev,
                              int64_t ld_h, const float* w_hh, int64_t rows, int64_t H) {
  be.gemm(Trans::kT, Trans::kN, H, rows, H, 1.0f, w_hh, H, h_prev, ld_h, 1.0f, pre_t, ld_pre);
}

// g_{t-1}[b, :] = W_hh^T delta_t[b, :]: g [rows, H] = delta_t [rows, H] W_hh.
inline void recurrent_gradient(Backend& be, float* g, const float* delta_t, int64_t ld_delta,
                               const float* w_hh, int64_t rows, int64_t H) {
  be.gemm(Trans::kN, Trans::kN, H, rows, H, 1.0f, w_hh, H, delta_t, ld_delta, 0.0f, g, H);
}

// dW += sum_r delta[r, :] x[r, :]^T: dW [H, I] += delta^T [H, rows] x [rows, I]
// (dW_ih with the layer's input, dW_hh with h_{t-1}).
inline void weight_gradient(Backend& be, float* dw, const float* delta, int64_t ld_delta,
                            const float* x, int64_t ld_x, int64_t rows, int64_t H, int64_t I) {
  be.gemm(Trans::kN, Trans::kT, I, H, rows, 1.0f, x, ld_x, delta, ld_delta, 1.0f, dw, I);
}

// db += sum_r delta[r, :]: a GEMV against a vector of ones [>= rows].
inline void bias_gradient(Backend& be, float* db, const float* delta, int64_t ld_delta,
                          const float* ones, int64_t rows, int64_t H) {
  be.gemm(Trans::kN, Trans::kN, H, 1, rows, 1.0f, delta, ld_delta, ones, rows, 1.0f, db, H);
}

// dx[r, :] (+)= W_ih^T delta[r, :]: dx [rows, I] (+)= delta [rows, H] W_ih.
inline void input_gradient(Backend& be, float* dx, const float* delta, int64_t ld_delta,
                           const float* w_ih, int64_t rows, int64_t H, int64_t I, bool accumulate) {
  be.gemm(Trans::kN, Trans::kN, I, rows, H, 1.0f, w_ih, I, delta, ld_delta,
          accumulate ? 1.0f : 0.0f, dx, I);
}

// sum[0] += alpha * sum_i a[i] b[i] over n elements, on the device (a 1 x 1 GEMM): a loss
// summed against a vector of ones, or a squared norm with b = a.
inline void add_dot(Backend& be, float* sum, const float* a, const float* b, int64_t n,
                    float alpha) {
  be.gemm(Trans::kT, Trans::kN, 1, 1, n, alpha, a, n, b, n, 1.0f, sum, 1);
}

}  // namespace elman::detail
