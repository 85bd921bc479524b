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

// The CPU launcher on a CPU backend (tests), the CUDA launcher on CUDA.
template <typename K>
void launch(Backend& be, const K& k) {
  if (be.device().is_cpu()) {
    run_blocks_on_cpu(k);
    return;
  }
#if ELMAN_CUDA_ENABLED
  const CudaDeviceScope on_device(be.device().index);
  launch_cuda(k, be.current_stream());
#else
  throw_built_without_cuda("a GPU recurrence on " + be.device().str());
#endif
}

// The running counts of every step, in the device's memory (queued on the current lane).
const int32_t* upload_counts(Backend& be, const int64_t* active, int64_t seq_len, bool reverse) {
  std::vector<int32_t> counts(active, active + seq_len);
  IndexBuffer& buffer = be.step_counts[reverse ? 1 : 0];
  buffer.upload(be, counts);
  return buffer.data();
}

}  // namespace

void block_forward_recurrence(Backend& be, const ForwardRecurrence& r, bool persistent) {
  const RecurrencePlan plan = plan_recurrence(r.batch, r.hidden, limits_of(be), persistent);
  if (!plan.fits) {
    standard_forward_recurrence(be, r);
    return;
  }
  ForwardRecurrenceKernel k{r.pre,
                            r.w_hh,
                            r.b_ih,
                            r.b_hh,
                            r.h0,
                            r.h,
                            upload_counts(be, r.active, r.seq_len, r.reverse),
                            r.seq_len,
                            r.ld_h,
                            r.act,
                            r.reverse,
                            0,
                            persistent ? r.seq_len : 1,
                            RecurrenceWork{plan, r.batch, r.hidden},
                            plan.blocks,
                            plan.threads};
  for (; k.first < r.seq_len; k.first += k.steps) launch(be, k);
}

void block_backward_recurrence(Backend& be, const BackwardRecurrence& r, bool persistent) {
  const RecurrencePlan plan = plan_recurrence(r.batch, r.hidden, limits_of(be), persistent);
  if (!plan.fits) {
    standard_backward_recurrence(be, r);
    return;
  }
  BackwardRecurrenceKernel k{r.dy,
                             r.h,
                             r.w_hh,
                             r.grad_h_n,
                             r.delta,
                             r.grad_h0,
                             upload_counts(be, r.active, r.seq_len, r.reverse),
                             r.seq_len,
                             r.ld_dy,
                             r.ld_h,
                             r.ld_delta,
                             r.act,
                             r.reverse,
                             0,
                             persistent ? r.seq_len : 1,
                             RecurrenceWork{plan, r.batch, r.hidden},
                             plan.blocks,
                             plan.threads};
  for (; k.first < r.seq_len; k.first += k.steps) launch(be, k);
}

}  // namespace elman::detail
