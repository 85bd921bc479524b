// The GPU recurrences as block-level kernels (kernels/block_kernel.h), forward and backward: the
// fused step (one launch per step) and the persistent recurrence (one launch for all steps).
#pragma once

#include <cstdint>

#include "kernels/block_kernel.h"
#include "kernels/recurrence_plan.h"
#include "kernels/step_ops.h"

namespace elman::detail {

// The block's shared memory, laid out as RecurrencePlan::shared_floats says.
struct RecurrenceShared {
  float* weights;  // [cols, H]: the block's rows of W_hh (forward) or of W_hh^T (backward)
  float* rows;     // [B, H]: h_{t-1} (forward) or delta_t (backward) of the running rows
  float* partial;  // [B * cols, splits]: the partial sums of each dot product
};
ELMAN_HD inline RecurrenceShared shared_layout(float* base, const RecurrencePlan& p, int64_t batch,
                                               int64_t hidden) {
  const int64_t w = p.weights_on_chip ? p.cols * hidden : 0;
  return {base, base + w, base + w + batch * hidden};
}

// The part of the work both directions of time share: which columns a block owns, and the dot
// products of its rows of a weight matrix with the staged rows, split among threads.
struct RecurrenceWork {
  RecurrencePlan plan;
  int64_t batch, hidden;

  ELMAN_HD int64_t first_col(int block) const { return block * plan.cols; }
  ELMAN_HD int64_t cols_of(int block) const {
    const int64_t end = first_col(block) + plan.cols;
    return (end < hidden ? end : hidden) - first_col(block);
  }
  // partial[o, split] = sum over k = split, split + splits, ... of w(jl, k) * rows[b, k], for the
  // block's outputs o = (b, jl), b < running; w(jl, k) is weight_at(jl, k).
  template <typename WeightAt>
  ELMAN_HD void partial_products(const BlockThread& at, const RecurrenceShared& s, int64_t running,
                                 const WeightAt& weight_at) const {
    const int64_t cols = cols_of(at.block), splits = plan.splits, H = hidden;
    for (int64_t i = at.thread; i < running * cols * splits; i += at.threads) {
      const int64_t o = i / splits, split = i % splits, b = o / cols, jl = o % cols;
      float sum = 0.0f;
      for (int64_t k = split; k < H; k += splits) sum += weight_at(jl, k) * s.rows[b * H + k];
      s.partial[o * splits + split] = sum;
    }
  }
  // The same with the block's weights from shared memory when they are on chip, else through
  // global_weight(jl, k) (from L2).
  template <typename GlobalWeight>
  ELMAN_HD void products(const BlockThread& at, const RecurrenceShared& s, int64_t running,
                         const GlobalWeight& global_weight) const {
    if (plan.weights_on_chip)
      partial_products(at, s, running,
                       [&](int64_t jl, int64_t k) { return s.weights[jl * hidden + k]; });
    else
      partial_products(at, s, running, global_weight);
  }
  ELMAN_HD float product(const RecurrenceShared& s, int64_t o) const {
    float sum = 0.0f;
    for (int64_t split = 0; split < plan.splits; ++split) sum += s.partial[o * plan.splits + split];
    return sum;
  }
};

// What a launch of either direction's kernel shares: the running counts, the steps it covers,
// the work split and the grid (the block-kernel fields: blocks, threads, shared_floats()).
struct RecurrenceLaunch {
  const int32_t* active;  // [T] in device memory: rows running at step t
  int64_t seq_len;
  Activation act;
  bool reverse;
  int64_t first, steps;  // this launch covers steps [first, first + steps) of its order
  RecurrenceWork work;
  int blocks, threads;

  int64_t shared_floats() const { return work.plan.shared_floats; }
};

// Forward over steps [first, first + steps) of the direction's order (ForwardRecurrence's
// meaning of every field; counts in device memory). Phases: [load the block's W_hh rows], then
// per step: stage h_{t-1} | partial products | h_t = f(pre_t + b + W_hh h_{t-1}), grid barrier.
struct ForwardRecurrenceKernel : RecurrenceLaunch {
  float* pre;         // [T, B, H]
  const float* w_hh;  // [H, H]
  const float* b_ih;  // [H] or nullptr
  const float* b_hh;  // [H] or nullptr
  const float* h0;    // [B, H] or nullptr (zeros)
  float* h;           // [T, B, ld_h]
  int64_t ld_h;

  ELMAN_HD int prologue() const { return work.plan.weights_on_chip ? 1 : 0; }
  ELMAN_HD int phases() const { return prologue() + 3 * static_cast<int>(steps); }
  ELMAN_HD Barrier barrier_after(int p) const {
    return p >= prologue() && (p - prologue()) % 3 == 2 ? Barrier::kGrid : Barrier::kBlock;
  }

  ELMAN_HD int64_t time_of(int64_t s) const { return reverse ? seq_len - 1 - s : s; }
  ELMAN_HD int64_t running_at(int64_t t) const { return t < 0 || t >= seq_len ? 0 : active[t]; }

  ELMAN_HD void run_phase(int p, const BlockThread& at, float* shared_base) const {
    const int64_t B = work.batch, H = work.hidden;
    const RecurrenceShared s = shared_layout(shared_base, work.plan, B, H);
    const int64_t j0 = work.first_col(at.block), cols = work.cols_of(at.block);
    if (p < prologue()) {  // the block's rows [j0, j0 + cols) of W_hh, contiguous
      for (int64_t i = at.thread; i < cols * H; i += at.threads) s.weights[i] = w_hh[j0 * H + i];
      return;
    }
    const int64_t t = time_of(first + (p - prologue()) / 3), running = running_at(t);
    switch ((p - prologue()) % 3) {
      case 0: {  // rows [0, continuing) continue from h_{t-1}; the rest of the running from h0
        const int64_t prev = reverse ? t + 1 : t - 1;
        const int64_t continuing = running_at(prev) < running ? running_at(prev) : running;
        for (int64_t i = at.thread; i < running * H; i += at.threads) {
          const int64_t b = i / H, k = i % H;
          s.rows[i] = b < continuing ? h[(prev * B + b) * ld_h + k] : (h0 ? h0[i] : 0.0f);
        }
        break;
      }
      case 1:
        work.products(at, s, running,
                      [&](int64_t jl, int64_t k) { return w_hh[(j0 + jl) * H + k]; });
        break;
      case 2:  // every row of the block's columns: f(...) for the running, 0 for the others
        for (int64_t o = at.thread; o < B * cols; o += at.threads) {
          const int64_t b = o / cols, j = j0 + o % cols;
          float* out = h + (t * B + b) * ld_h + j;
          if (b >= running) {
            *out = 0.0f;
            continue;
          }
          float a = pre[(t * B + b) * H + j] + work.product(s, o);
          if (b_ih) a += b_ih[j] + b_hh[j];
          *out = activate(act, a);
        }
        break;
    }
  }
};

// Backward over steps [first, first + steps) against the direction's order (BackwardRecurrence's
// meaning). Phases: a prologue (the block's columns of W_hh as rows of W_hh^T when on chip; at
// the first step, g = grad_h_n or 0 in the block's columns), then per step:
// delta_t = (dy_t + g) f'(h_t), grid barrier | stage delta_t | partial products | g = W_hh^T
// delta_t. g (grad_h0) is read and written only in the block's own columns, so block barriers
// suffice around it; delta_t is read by every block, hence the grid barrier after it.
struct BackwardRecurrenceKernel : RecurrenceLaunch {
  const float* dy;        // [T, B, ld_dy]
  const float* h;         // [T, B, ld_h]
  const float* w_hh;      // [H, H]
  const float* grad_h_n;  // [B, H] or nullptr
  float* delta;           // [T, B, ld_delta]
  float* g;               // [B, H]: the carried gradient, dL/dh0 at the end
  int64_t ld_dy, ld_h, ld_delta;

  ELMAN_HD int phases() const { return 1 + 4 * static_cast<int>(steps); }
  ELMAN_HD Barrier barrier_after(int p) const {
    return p >= 1 && (p - 1) % 4 == 0 ? Barrier::kGrid : Barrier::kBlock;
  }
  ELMAN_HD int64_t time_of(int64_t s) const { return reverse ? s : seq_len - 1 - s; }

  ELMAN_HD void run_phase(int p, const BlockThread& at, float* shared_base) const {
    const int64_t B = work.batch, H = work.hidden;
    const RecurrenceShared s = shared_layout(shared_base, work.plan, B, H);
    const int64_t j0 = work.first_col(at.block), cols = work.cols_of(at.block);
    if (p == 0) {
      if (work.plan.weights_on_chip)  // weights[jl, k] = W_hh[k, j0 + jl]
        for (int64_t i = at.thread; i < cols * H; i += at.threads)
          s.weights[i] = w_hh[(i % H) * H + j0 + i / H];
      if (first == 0)
        for (int64_t o = at.thread; o < B * cols; o += at.threads) {
          const int64_t b = o / cols, j = j0 + o % cols;
          g[b * H + j] = grad_h_n ? grad_h_n[b * H + j] : 0.0f;
        }
      return;
    }
    const int64_t t = time_of(first + (p - 1) / 4), running = active[t];
    switch ((p - 1) % 4) {
      case 0:  // the block's columns of delta_t; 0 in rows not running at t
        for (int64_t o = at.thread; o < B * cols; o += at.threads) {
          const int64_t b = o / cols, j = j0 + o % cols;
          float* out = delta + (t * B + b) * ld_delta + j;
          *out = b < running ? (dy[(t * B + b) * ld_dy + j] + g[b * H + j]) *
                                   activation_grad_from_output(act, h[(t * B + b) * ld_h + j])
                             : 0.0f;
        }
        break;
      case 1:
        for (int64_t i = at.thread; i < running * H; i += at.threads)
          s.rows[i] = delta[(t * B + i / H) * ld_delta + i % H];
        break;
      case 2:
        work.products(at, s, running, [&](int64_t jl, int64_t k) { return w_hh[k * H + j0 + jl]; });
        break;
      case 3:  // rows that have not started yet (backward in time) keep their g
        for (int64_t o = at.thread; o < running * cols; o += at.threads)
          g[(o / cols) * H + j0 + o % cols] = work.product(s, o);
        break;
    }
  }
};

}  // namespace elman::detail

struct CUstream_st;

namespace elman::detail {

// The CUDA launchers and the limits of a CUDA device (kernels/recurrence_kernels.cu).
void launch_cuda(const ForwardRecurrenceKernel& k, CUstream_st* stream);
void launch_cuda(const BackwardRecurrenceKernel& k, CUstream_st* stream);
GpuLimits cuda_gpu_limits(int device);

}  // namespace elman::detail
