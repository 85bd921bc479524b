// The GPU recurrences (Algorithm::kFusedStep, kPersistent) behind the seam: each plans its grid,
// uploads the running counts and launches its block-level kernel, on CUDA or (tests) through
// the CPU launcher; shapes beyond the GPU's shared memory fall back to the standard recurrence.
#include <vector>

#include "host/backend.h"
#include "host/recurrence.h"
#include "kernels/cuda_api.h"
#include "kernels/recurrence_kernels.h"

namespace elman::detail {

namespace {

GpuLimits limits_of(const Backend& be) {
  if (be.device().is_cpu()) return *be.simulated_gpu();  // resolve_algorithm checked it is set
#if ELMAN_CUDA_ENABLED
  return cuda_gpu_limits(be.device().index);
#else
  throw_built_without_cuda("the GPU recurrences on " + be.device().str());
#endif
}

// The counts uploaded, the grid planned and the first launch's steps: one step per launch for
// the fused step, all of them for the persistent recurrence.
template <typename Recurrence>
RecurrenceLaunch first_launch(Backend& be, const Recurrence& r, const RecurrencePlan& plan,
                              bool persistent) {
  std::vector<int32_t> counts(r.active, r.active + r.seq_len);
  IndexBuffer& buffer = be.step_counts[r.reverse ? 1 : 0];
  buffer.upload(be, counts);  // queued on the current lane
  return {buffer.data(),
          r.seq_len,
          r.act,
          r.reverse,
          0,
          persistent ? r.seq_len : 1,
          {plan, r.batch, r.hidden},
          plan.blocks,
          plan.threads};
}

// Each direction's kernel, from its recurrence and its first launch.
ForwardRecurrenceKernel kernel_of(const ForwardRecurrence& r, const RecurrenceLaunch& first) {
  return {{first}, r.pre, r.w_hh, r.b_ih, r.b_hh, r.h0, r.h, r.ld_h};
}
BackwardRecurrenceKernel kernel_of(const BackwardRecurrence& r, const RecurrenceLaunch& first) {
  return {{first}, r.dy, r.h, r.w_hh, r.grad_h_n, r.delta, r.grad_h0, r.ld_dy, r.ld_h, r.ld_delta};
}

// Runs r through its block-level kernel, every launch on the CPU launcher on a CPU backend
// (tests) or on CUDA. False, having done nothing, where the shape exceeds the GPU's shared memory.
template <typename Recurrence>
bool run_blocks(Backend& be, const Recurrence& r, bool persistent) {
  const RecurrencePlan plan = plan_recurrence(r.batch, r.hidden, limits_of(be), persistent);
  if (!plan.fits) return false;
  auto k = kernel_of(r, first_launch(be, r, plan, persistent));
  const auto on_cpu = [&] { run_blocks_on_cpu(k); };
  for (; k.first < k.seq_len; k.first += k.steps) launch_on(be, k, on_cpu, "a GPU recurrence");
  return true;
}

}  // namespace

// Beyond the GPU's shared memory, the standard recurrence.
void block_forward_recurrence(Backend& be, const ForwardRecurrence& r, bool persistent) {
  if (!run_blocks(be, r, persistent)) standard_forward_recurrence(be, r);
}

void block_backward_recurrence(Backend& be, const BackwardRecurrence& r, bool persistent) {
  if (!run_blocks(be, r, persistent)) standard_backward_recurrence(be, r);
}

}  // namespace elman::detail
