// The element-wise ops of training as functors (DESIGN.md §2: one kernel body, two launchers):
// head bias, losses with their gradients, optimizer updates, gradient clipping, batch gathers.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace elman::detail {

// y[r, c] = b[c]: the bias broadcast over rows, before a GEMM adds x W^T (beta = 1).
struct BroadcastRows {
  const float* b;  // [cols]
  float* y;        // [rows, cols]
  int64_t rows, cols;
  int64_t size() const { return rows * cols; }
  ELMAN_HD void operator()(int64_t i) const { y[i] = b[i % cols]; }
};

// Mean squared error over n elements, fused with its gradient:
// sq[i] = (pred - target)^2, grad[i] = grad_scale * (pred - target), grad_scale = 2 / n.
struct MseLossGrad {
  const float* pred;
  const float* target;
  float* grad;  // may alias nothing else
  float* sq;    // per-element squared error, summed afterwards by a GEMM with ones
  int64_t n;
  float grad_scale;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const {
    const float d = pred[i] - target[i];
    sq[i] = d * d;
    grad[i] = grad_scale * d;
  }
};

// Softmax cross-entropy per row, fused and numerically stable (log-sum-exp shifted by the row's
// maximum): row_loss[r] = logsumexp(z_r) - z_r[t_r], grad[r, c] = grad_scale * (softmax(z_r)_c
// - [c == t_r]). Targets are class indices stored as floats; one out of range gives a NaN loss
// (so the trainer's non-finite check stops the run) and a zero gradient row.
struct SoftmaxCrossEntropy {
  const float* logits;     // [rows, classes]
  const int32_t* targets;  // [rows], class ids
  float* grad;             // [rows, classes]
  float* row_loss;         // [rows]
  int64_t rows, classes;
  float grad_scale;  // 1 / rows for the mean
  int64_t size() const { return rows; }
  ELMAN_HD void operator()(int64_t r) const {
    const float* z = logits + r * classes;
    float* g = grad + r * classes;
    const int64_t t = targets[r];
    if (t < 0 || t >= classes) {
      for (int64_t c = 0; c < classes; ++c) g[c] = 0.0f;
      row_loss[r] = NAN;
      return;
    }
    float m = z[0];
    for (int64_t c = 1; c < classes; ++c) m = z[c] > m ? z[c] : m;
    float s = 0.0f;
    for (int64_t c = 0; c < classes; ++c) s += expf(z[c] - m);
    const float log_s = logf(s);
    row_loss[r] = log_s + m - z[t];
    const float inv_s = 1.0f / s;
    for (int64_t c = 0; c < classes; ++c)
      g[c] = grad_scale * (expf(z[c] - m) * inv_s - (c == t ? 1.0f : 0.0f));
  }
};

// torch.optim.SGD's step for one element (weight decay, momentum with dampening, Nesterov):
//   g += wd * p;  b = first ? g : momentum * b + (1 - dampening) * g;
//   g = nesterov ? g + momentum * b : b;  p -= lr * g
struct SgdUpdate {
  float* p;
  const float* grad;
  float* buf;  // momentum buffer, unused when momentum == 0
  int64_t n;
  float lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const {
    float g = grad[i];
    if (weight_decay != 0.0f) g += weight_decay * p[i];
    if (momentum != 0.0f) {
      const float b = first_step ? g : momentum * buf[i] + (1.0f - dampening) * g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    p[i] -= lr * g;
  }
};

// torch.optim.Adam / AdamW's step for one element (amsgrad=False), in torch's own arithmetic:
//   AdamW: p *= 1 - lr * wd        Adam: g += wd * p
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_k = 1 - b_k^step
// The bias corrections depend only on the step count, so the host computes them (in double).
struct AdamUpdate {
  float* p;
  const float* grad;
  float* m;
  float* v;
  int64_t n;
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;             // AdamW
  float step_size, bc2_sqrt;  // lr / bc1, sqrt(bc2)
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const {
    float g = grad[i];
    float w = p[i];
    if (weight_decay != 0.0f) {
      if (decoupled)
        w *= 1.0f - lr * weight_decay;
      else
        g += weight_decay * w;
    }
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] = w - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
  }
};

// torch.nn.utils.clip_grad_norm_'s scaling, reading the squared total norm from the device:
// coef = max_norm / (sqrt(norm_sq) + 1e-6); g *= coef when coef < 1. No host round trip.
struct ClipByNorm {
  float* g;
  int64_t n;
  const float* norm_sq;  // device scalar: the sum of squares of every gradient
  float max_norm;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const {
    const float coef = max_norm / (sqrtf(*norm_sq) + 1e-6f);
    if (coef < 1.0f) g[i] *= coef;
  }
};

// Records, for each tensor packed in a flat buffer, the first step at which it held a NaN or an
// infinity: slots[s] = step when slots[s] is still 0 and an element of segment s (the range
// [ends[s-1], ends[s]) of x, ends[-1] = 0) is not finite. The trainer runs it after every
// backward over the flat gradients (and over the loss sum), and reads the slots once per epoch
// with the loss: a per-step check that never synchronises. Steps are stored as floats (exact
// below 2^24). Every writer of one launch writes the same value, so their race is benign;
// launches on one stream are ordered, so the earliest step stays.
struct FirstNonFinite {
  static constexpr int kMaxSegments = 32;
  const float* x;
  int64_t n;
  float* slots;  // [segments]
  int64_t ends[kMaxSegments];
  int segments;
  float step;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const {
    const float v = x[i];
    if (v - v == 0.0f) return;  // finite (NaN and +-inf give NaN)
    int s = 0;
    while (s + 1 < segments && i >= ends[s]) ++s;
    if (slots[s] == 0.0f) slots[s] = step;
  }
};

// x[i] *= scale: data-parallel training weights each rank's gradient by its share of the batch.
struct ScaleInPlace {
  float* x;
  int64_t n;
  float scale;
  int64_t size() const { return n; }
  ELMAN_HD void operator()(int64_t i) const { x[i] *= scale; }
};

}  // namespace elman::detail
