// The fused element-wise ops of the recurrent step, forward and backward, as functors in the
// row form (kernels/functor_op.h): at(b, j) computes element (b, j) of a [batch, hidden] step.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace elman::detail {

enum class Activation { kTanh, kReLU };

// relu passes NaN through (a != a), as torch.relu does: a NaN in the input or h0 must reach the
// outputs and the trainer's fault checks, not turn into a finite 0.
ELMAN_HD inline float activate(Activation act, float a) {
  return act == Activation::kTanh ? tanhf(a) : ((a > 0.0f || a != a) ? a : 0.0f);
}
// f'(a) from h = f(a): 1 - h^2 for tanh, [a > 0] = [h > 0] for relu (STYLE.md: backward takes
// the derivative from the stored output, no second pass). NaN in, NaN out, for both.
ELMAN_HD inline float activation_grad_from_output(Activation act, float h) {
  return act == Activation::kTanh ? 1.0f - h * h : (h > 0.0f ? 1.0f : (h != h ? h : 0.0f));
}

// What both steps share: a [batch, hidden] grid of elements (the row form) in which rows
// [0, active) are running; the other rows hold sequences that have ended (variable lengths).
struct StepGrid {
  int64_t batch, hidden;
  Activation act;
  int64_t active;

  int64_t rows() const { return batch; }
  int64_t cols() const { return hidden; }
};

// h_t = f(pre + b_ih + b_hh), where pre = W_ih x_t + W_hh h_{t-1} came from the GEMMs.
// Rows b >= active are sequences that have ended (variable lengths): their h_t is 0.
struct ForwardStep : StepGrid {
  const float* pre;   // [batch, hidden], row stride ld_pre
  const float* b_ih;  // [hidden] or nullptr (bias=False)
  const float* b_hh;  // [hidden] or nullptr
  float* h;           // [batch, hidden], row stride ld_h
  int64_t ld_pre, ld_h;

  ELMAN_HD void at(int64_t b, int64_t j) const {
    if (b >= active) {
      h[b * ld_h + j] = 0.0f;
      return;
    }
    float a = pre[b * ld_pre + j];
    if (b_ih) a += b_ih[j] + b_hh[j];
    h[b * ld_h + j] = activate(act, a);
  }
};

// delta_t = (dy_t + g_carry) * f'(a_t): the gradient w.r.t. the pre-activation at step t.
// dy_t is the gradient arriving from the layer's output (above or the loss), g_carry the one
// arriving through the recurrence (W_hh^T delta_{t+1}, or dL/dh_n at the last step).
// Rows b >= active are not running at step t: their delta is 0, whatever dy holds there.
struct BackwardStep : StepGrid {
  const float* dy;       // [batch, hidden], row stride ld_dy
  const float* g_carry;  // [batch, hidden], row stride hidden
  const float* h;        // [batch, hidden], row stride ld_h: the saved h_t
  float* delta;          // [batch, hidden], row stride ld_delta
  int64_t ld_dy, ld_h, ld_delta;

  ELMAN_HD void at(int64_t b, int64_t j) const {
    if (b >= active) {
      delta[b * ld_delta + j] = 0.0f;
      return;
    }
    const float g = dy[b * ld_dy + j] + g_carry[b * hidden + j];
    delta[b * ld_delta + j] = g * activation_grad_from_output(act, h[b * ld_h + j]);
  }
};

}  // namespace elman::detail
