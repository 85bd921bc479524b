// The recurrence: the seam between algorithms (DESIGN.md §2). One (layer, direction)'s time loop,
// forward and backward, as plain pointers, strides and running counts; each Algorithm is an
// implementation, everything around the loop is shared orchestration.
#pragma once

#include <cstdint>

#include "elman/rnn.h"
#include "host/param_layout.h"
#include "kernels/step_ops.h"

namespace elman::detail {

class Backend;

// Forward: h_t = f(pre_t + b_ih + b_hh + W_hh h_{t-1}) for t in the direction's order.
// Variable lengths: rows [0, active[t]) run at step t (sorted longest first); a row that did not
// run at the direction's previous step starts from h0 (zeros when h0 is null); rows that do not
// run get h_t = 0.
struct ForwardRecurrence {
  float* pre;         // [T, B, H], row stride H: W_ih x_t on entry; scratch (may be changed)
  const float* w_hh;  // [H, H]
  const float* b_ih;  // [H] or nullptr (bias = false)
  const float* b_hh;  // [H] or nullptr
  const float* h0;    // [B, H] or nullptr (zeros)
  float* h;           // [T, B, ld_h]: h_t, this direction's slice of the layer output
  int64_t seq_len, batch, hidden, ld_h;
  const int64_t* active;  // [T], host memory: rows running at step t
  Activation act;
  bool reverse;  // the reverse direction walks t = T-1 ... 0

  int64_t step(int64_t s) const { return reverse ? seq_len - 1 - s : s; }
  int64_t active_at(int64_t t) const { return t < 0 || t >= seq_len ? 0 : active[t]; }
  // Rows [0, continuing) of step t continue from the direction's previous step; the rest of the
  // running rows start there, from h0.
  int64_t continuing(int64_t t) const {
    return reverse ? active_at(t + 1) : (t > 0 ? active[t] : 0);
  }
  int64_t previous(int64_t t) const { return reverse ? t + 1 : t - 1; }
};

// Backward, walking time against the direction: delta_t = (dy_t + g_t) f'(a_t), where g_t is
// grad_h_n at each row's last step and W_hh^T delta_{t+1} before it; grad_h0 gets the g that
// leaves each row's first step. Rows that do not run at step t get delta_t = 0.
struct BackwardRecurrence {
  const float* dy;        // [T, B, ld_dy]: dL/dh_t arriving from the layer's output
  const float* h;         // [T, B, ld_h]: the saved h_t
  const float* w_hh;      // [H, H]
  const float* grad_h_n;  // [B, H] or nullptr (zeros): the gradient entering the last step
  float* delta;           // [T, B, ld_delta]: dL/da_t
  float* grad_h0;         // [B, H]: dL/dh0; also the carried g during the loop
  int64_t seq_len, batch, hidden, ld_dy, ld_h, ld_delta;
  const int64_t* active;  // [T], host memory
  Activation act;
  bool reverse;

  int64_t step(int64_t s) const { return reverse ? s : seq_len - 1 - s; }
};

// Streaming (RNN::step): one time step of every layer of a unidirectional model, each layer's
// input projection included (at T = 1 it is as small as the recurrent product, so the fused
// algorithm computes both in one pass: f(W_ih x + b_ih + W_hh h + b_hh)).
struct StepRecurrence {
  const float* params;       // the flat parameter buffer
  const CellOffsets* cells;  // [L]: each layer's parameters in it (bias offsets unused
  bool bias;                 // when !bias)
  const float* x;            // [B, I]: layer 0's input
  const float* state;        // [L, B, H]: h_{t-1} of every layer, or nullptr (zeros)
  float* next_state;         // [L, B, H]: h_t of every layer (does not alias state)
  float* pre;                // [B, H]: scratch
  int64_t layers, batch, input_size, hidden;
  Activation act;
};

// The algorithm `requested` resolves to on `device` (kAuto's rule; README "Algorithms"); throws
// elman::Error naming `call` where it is not available there.
Algorithm resolve_algorithm(const char* call, Algorithm requested, const Backend& be);

// Runs one (layer, direction)'s recurrence with `algorithm` (resolved, not kAuto) on `be`'s
// current lane.
void run_forward_recurrence(Backend& be, Algorithm algorithm, const ForwardRecurrence& r);
void run_backward_recurrence(Backend& be, Algorithm algorithm, const BackwardRecurrence& r);
void run_step_recurrence(Backend& be, Algorithm algorithm, const StepRecurrence& r);

// The implementations.
void standard_forward_recurrence(Backend& be, const ForwardRecurrence& r);
void standard_backward_recurrence(Backend& be, const BackwardRecurrence& r);
void standard_step_recurrence(Backend& be, const StepRecurrence& r);
void fused_cpu_forward_recurrence(Backend& be, const ForwardRecurrence& r);
void fused_cpu_backward_recurrence(Backend& be, const BackwardRecurrence& r);
void fused_cpu_step_recurrence(Backend& be, const StepRecurrence& r);
// The GPU recurrences (host/recurrence_blocks.cpp): the fused step, or with `persistent` the
// persistent recurrence; through the CPU launcher on a CPU backend with a simulated GPU.
void block_forward_recurrence(Backend& be, const ForwardRecurrence& r, bool persistent);
void block_backward_recurrence(Backend& be, const BackwardRecurrence& r, bool persistent);
// The standard recurrence through Backend::capture_or_replay (host/recurrence_graph.cpp).
void graph_forward_recurrence(Backend& be, const ForwardRecurrence& r);
void graph_backward_recurrence(Backend& be, const BackwardRecurrence& r);

}  // namespace elman::detail
