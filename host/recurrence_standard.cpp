// The standard recurrence (every device): per step one GEMM over the running sequences and one
// fused element-wise functor, DESIGN.md §2's "per step, one GEMM W_hh h_{t-1} and one fused
// kernel".
#include "host/backend.h"
#include "host/param_layout.h"
#include "host/products.h"
#include "host/recurrence.h"

namespace elman::detail {

void standard_forward_recurrence(Backend& be, const ForwardRecurrence& r) {
  const int64_t B = r.batch, H = r.hidden;
  for (int64_t s = 0; s < r.seq_len; ++s) {
    const int64_t t = r.step(s), running = r.active[t], continuing = r.continuing(t);
    float* pre_t = r.pre + t * B * H;  // [B, H]
    if (continuing > 0)
      recurrent_product(be, pre_t, H, r.h + r.previous(t) * B * r.ld_h, r.ld_h, r.w_hh, continuing,
                        H);
    if (r.h0 && running > continuing)
      recurrent_product(be, pre_t + continuing * H, H, r.h0 + continuing * H, H, r.w_hh,
                        running - continuing, H);
    run(be, ForwardStep{
                {B, H, r.act, running}, pre_t, r.b_ih, r.b_hh, r.h + t * B * r.ld_h, H, r.ld_h});
  }
}

void standard_backward_recurrence(Backend& be, const BackwardRecurrence& r) {
  const int64_t B = r.batch, H = r.hidden;
  float* g = r.grad_h0;  // [B, H]: the gradient flowing back through time
  // A row keeps dL/dh_n until its sequence starts running (backward in time): the GEMMs below
  // touch only running rows.
  if (r.grad_h_n)
    run(be, CopyRows{r.grad_h_n, g, B, H, H, H});
  else
    run(be, Fill{g, B * H, 0.0f});
  for (int64_t s = 0; s < r.seq_len; ++s) {
    const int64_t t = r.step(s), running = r.active[t];
    float* delta_t = r.delta + t * B * r.ld_delta;
    run(be, BackwardStep{{B, H, r.act, running},
                         r.dy + t * B * r.ld_dy,
                         g,
                         r.h + t * B * r.ld_h,
                         delta_t,
                         r.ld_dy,
                         r.ld_h,
                         r.ld_delta});
    // dL/dh_{t-1} of the running rows; a row whose sequence has just had its first step keeps
    // dL/dh0.
    recurrent_gradient(be, g, delta_t, r.ld_delta, r.w_hh, running, H);
  }
}

void standard_step_recurrence(Backend& be, const StepRecurrence& r) {
  const int64_t B = r.batch, H = r.hidden;
  const int64_t running[1] = {B};
  for (int64_t l = 0; l < r.layers; ++l) {
    const CellOffsets& cell = r.cells[l];
    const int64_t I = l == 0 ? r.input_size : H;
    const float* in = l == 0 ? r.x : r.next_state + (l - 1) * B * H;  // [B, I]
    input_projection(be, r.pre, in, I, r.params + cell.w_ih, B, I, H);
    ForwardRecurrence f;
    f.pre = r.pre;
    f.w_hh = r.params + cell.w_hh;
    f.b_ih = r.bias ? r.params + cell.b_ih : nullptr;
    f.b_hh = r.bias ? r.params + cell.b_hh : nullptr;
    f.h0 = r.state ? r.state + l * B * H : nullptr;
    f.h = r.next_state + l * B * H;
    f.seq_len = 1;
    f.batch = B;
    f.hidden = H;
    f.ld_h = H;
    f.active = running;
    f.act = r.act;
    f.reverse = false;
    standard_forward_recurrence(be, f);
  }
}

}  // namespace elman::detail
