// The fused CPU recurrence (Algorithm::kFused): per step one pass of the SIMD kernels over W_hh,
// the hidden units split among the pool's threads for the whole sequence, one barrier per step.
#include <algorithm>
#include <cstring>

#include "host/cpu/kernels.h"
#include "host/cpu/thread_pool.h"
#include "host/cpu_backend.h"
#include "host/recurrence.h"

namespace elman::detail {

namespace {

// Threads for a step of `flops` over `columns` hidden units: enough work each
// (CpuBackend::min_flops_per_thread), at least one vector of columns each, at most the
// context's thread count.
int threads_for(CpuBackend& cpu, double flops, int64_t columns) {
  const int64_t threads = cpu.threads_for_next_call();
  const double per_thread = cpu.min_flops_per_thread();
  const int64_t by_work = per_thread > 0 ? static_cast<int64_t>(flops / per_thread) : threads;
  const int64_t by_columns = (columns + cpu.kernels().width - 1) / cpu.kernels().width;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({by_work, by_columns, threads})));
}

// Runs task on n threads of the pool and tells the backend how often they waited for each other
// past the spin (`barriers` per thread, plus the final join).
template <typename Task>
void run_threads(CpuBackend& cpu, int n, const cpu::SpinBarrier& barrier, int64_t barriers,
                 const Task& task) {
  cpu.pool().run(n, task);
  if (n > 1) {
    const int64_t waits = n * barriers + 1;
    const int slow = barrier.slow_waits() + (cpu.pool().last_run_was_slow() ? 1 : 0);
    cpu.report_waits(slow, static_cast<int>(std::min<int64_t>(waits, 1 << 30)));
  }
}

// Thread i of n owns hidden units [begin, end): contiguous, whole vectors, nearly equal.
struct ColumnRange {
  int64_t begin, end;
};
ColumnRange column_range(int i, int n, int64_t columns, int width) {
  const int64_t vectors = (columns + width - 1) / width;
  const int64_t first = vectors * i / n, last = vectors * (i + 1) / n;
  return {std::min(columns, first * width), std::min(columns, last * width)};
}

// From this many rows per step the forward packs W_hh^T (measured: below it, the dot products
// over W_hh as it is are as fast, and need no packing).
constexpr int64_t kPackedMinRows = 4;

// w_t[k][j] = w[j][k] for the rows j in c (w and w_t [H, H]): the columns of W^T one thread
// reads, in tiles so that both sides stay in cache.
void transpose_rows(const float* w, int64_t H, ColumnRange c, float* w_t) {
  constexpr int64_t kTile = 16;
  for (int64_t j0 = c.begin; j0 < c.end; j0 += kTile)
    for (int64_t k0 = 0; k0 < H; k0 += kTile) {
      const int64_t j1 = std::min(j0 + kTile, c.end), k1 = std::min(k0 + kTile, H);
      for (int64_t k = k0; k < k1; ++k)
        for (int64_t j = j0; j < j1; ++j) w_t[k * H + j] = w[j * H + k];
    }
}

void zero_columns(float* m, int64_t ld, int64_t row_begin, int64_t row_end, ColumnRange c) {
  for (int64_t b = row_begin; b < row_end; ++b)
    std::memset(m + b * ld + c.begin, 0, sizeof(float) * static_cast<size_t>(c.end - c.begin));
}

}  // namespace

void fused_cpu_forward_recurrence(Backend& be, const ForwardRecurrence& r) {
  CpuBackend& cpu = static_cast<CpuBackend&>(be);
  const cpu::Kernels& k = cpu.kernels();
  const int64_t B = r.batch, H = r.hidden;
  const int n = threads_for(cpu, 2.0 * double(B) * double(H) * double(H), H);
  // Several rows per step: W_hh^T packed once per call (each thread its own columns), so each
  // step is row-scaled sums of contiguous rows (transposed_products), the GEMM-like form that
  // reuses each load of W for up to 6 rows. A row or three: dot products over W_hh as it is.
  const bool packed = B >= kPackedMinRows;
  float* w_t = packed ? cpu.scratch(H * H) : nullptr;  // [H, H]: W_hh^T
  cpu::SpinBarrier barrier(n);
  auto task = [&](int i) {
    const ColumnRange c = column_range(i, n, H, k.width);
    if (packed) transpose_rows(r.w_hh, H, c, w_t);
    // pre[rows] += W_hh h[rows] for `count` rows of h (stride ld).
    auto recurrent_product = [&](float* pre, const float* h, int64_t ld, int64_t count) {
      if (packed)
        k.transposed_products(w_t, H, H, h, ld, count, pre, H, c.begin, c.end, true);
      else
        k.dot_products(r.w_hh, H, H, h, ld, count, pre, H, c.begin, c.end, true);
    };
    for (int64_t s = 0; s < r.seq_len; ++s) {
      const int64_t t = r.step(s), running = r.active[t], continuing = r.continuing(t);
      float* pre_t = r.pre + t * B * H;   // [B, H]
      float* h_t = r.h + t * B * r.ld_h;  // [B, ld_h]
      if (continuing > 0)                 // pre_t += W_hh h_{t-1}
        recurrent_product(pre_t, r.h + r.previous(t) * B * r.ld_h, r.ld_h, continuing);
      if (r.h0 && running > continuing)  // rows starting here: pre_t += W_hh h0
        recurrent_product(pre_t + continuing * H, r.h0 + continuing * H, H, running - continuing);
      k.activate(pre_t, H, r.b_ih, r.b_hh, h_t, r.ld_h, running, c.begin, c.end, r.act);
      zero_columns(h_t, r.ld_h, running, B, c);
      if (s + 1 < r.seq_len) barrier.arrive_and_wait();  // h_t complete before any reads it
    }
  };
  run_threads(cpu, n, barrier, r.seq_len - 1, task);
}

void fused_cpu_backward_recurrence(Backend& be, const BackwardRecurrence& r) {
  CpuBackend& cpu = static_cast<CpuBackend&>(be);
  const cpu::Kernels& k = cpu.kernels();
  const int64_t B = r.batch, H = r.hidden;
  const int n = threads_for(cpu, 2.0 * double(B) * double(H) * double(H), H);
  cpu::SpinBarrier barrier(n);
  float* g = r.grad_h0;  // [B, H]: each thread reads and writes only its own columns of it
  auto task = [&](int i) {
    const ColumnRange c = column_range(i, n, H, k.width);
    // A row keeps dL/dh_n until its sequence starts running (backward in time): the product
    // below touches only running rows.
    if (r.grad_h_n)
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(g + b * H + c.begin, r.grad_h_n + b * H + c.begin,
                    sizeof(float) * static_cast<size_t>(c.end - c.begin));
    else
      zero_columns(g, H, 0, B, c);
    for (int64_t s = 0; s < r.seq_len; ++s) {
      const int64_t t = r.step(s), running = r.active[t];
      float* delta_t = r.delta + t * B * r.ld_delta;
      k.delta(r.dy + t * B * r.ld_dy, r.ld_dy, g, H, r.h + t * B * r.ld_h, r.ld_h, delta_t,
              r.ld_delta, running, c.begin, c.end, r.act);
      zero_columns(delta_t, r.ld_delta, running, B, c);
      barrier.arrive_and_wait();  // delta_t complete before the product reads all of it
      // g = W_hh^T delta_t for the running rows: dL/dh_{t-1}, or dL/dh0 after a row's first step.
      k.transposed_products(r.w_hh, H, H, delta_t, r.ld_delta, running, g, H, c.begin, c.end,
                            false);
    }
  };
  run_threads(cpu, n, barrier, r.seq_len, task);
}

void fused_cpu_step_recurrence(Backend& be, const StepRecurrence& r) {
  CpuBackend& cpu = static_cast<CpuBackend&>(be);
  const cpu::Kernels& k = cpu.kernels();
  const int64_t B = r.batch, H = r.hidden;
  const double flops = 2.0 * double(B) * double(H) * double(r.input_size + H);
  const int n = threads_for(cpu, flops, H);
  cpu::SpinBarrier barrier(n);
  auto task = [&](int i) {
    const ColumnRange c = column_range(i, n, H, k.width);
    for (int64_t l = 0; l < r.layers; ++l) {
      const CellOffsets& cell = r.cells[l];
      const int64_t I = l == 0 ? r.input_size : H;
      const float* in = l == 0 ? r.x : r.next_state + (l - 1) * B * H;  // [B, I]
      // pre = W_ih x (+ W_hh h_{t-1}), then h_t = f(pre + b_ih + b_hh): one pass per layer.
      k.dot_products(r.params + cell.w_ih, I, I, in, I, B, r.pre, H, c.begin, c.end, false);
      if (r.state)
        k.dot_products(r.params + cell.w_hh, H, H, r.state + l * B * H, H, B, r.pre, H, c.begin,
                       c.end, true);
      k.activate(r.pre, H, r.bias ? r.params + cell.b_ih : nullptr,
                 r.bias ? r.params + cell.b_hh : nullptr, r.next_state + l * B * H, H, B, c.begin,
                 c.end, r.act);
      if (l + 1 < r.layers) barrier.arrive_and_wait();  // layer l complete: the next one's input
    }
  };
  run_threads(cpu, n, barrier, r.layers - 1, task);
}

}  // namespace elman::detail
