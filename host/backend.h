// The seam between orchestration and a device (DESIGN.md §2): a column-major GEMM with cuBLAS's
// meaning of its arguments, the functor ops, and lanes (streams) for independent work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "elman/context.h"
#include "elman/device.h"
#include "host/index_buffer.h"
#include "kernels/batch_ops.h"
#include "kernels/copy_ops.h"
#include "kernels/cuda_api.h"
#include "kernels/functor_op.h"
#include "kernels/recurrence_plan.h"
#include "kernels/step_ops.h"

// ELMAN_CUDA_ENABLED (1 or 0) comes from CMake, on the library and elman_internal: a file that
// includes this header from anywhere else must not guess whether the CUDA launcher exists.
#ifndef ELMAN_CUDA_ENABLED
#error "ELMAN_CUDA_ENABLED is not defined: link the target with elman_internal (CMakeLists.txt)"
#endif

struct CUstream_st;

namespace elman::detail {

enum class Trans { kN, kT };

struct GraphKey;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual CUstream_st* stream() const { return nullptr; }
  virtual void synchronize() {}

  // C = alpha * op(A) * op(B) + beta * C, column-major, op(A) m x k, op(B) k x n, C m x n:
  // exactly cublasSgemm's (and cblas_sgemm(CblasColMajor, ...)'s) meaning of every argument.
  // Checks the leading dimensions the way BLAS does, so a wrong one fails on the CPU first.
  virtual void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                    int64_t ldc) = 0;

  // Copies `bytes` from host memory to this device, ordered on the current lane. The source may
  // be reused as soon as the call returns (CUDA copies it into pinned staging first).
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;

  // The stream of the current lane (nullptr on the CPU): where run() launches functor ops.
  virtual CUstream_st* current_stream() const { return nullptr; }

  // Lanes: independent streams of work (the two directions of a layer). fork() makes lanes
  // 0..n-1 wait for all work queued so far; set_lane(k) sends later work to lane k; join()
  // makes the main lane wait for all lanes and returns to it. The CPU runs lanes in order.
  // Orchestration holds lanes through a LaneScope, which joins even when an exception leaves.
  virtual void fork(int lanes) { (void)lanes; }
  virtual void set_lane(int lane) { (void)lane; }
  virtual void join() {}

  // Runs `record` (one recurrence's work on the current lane). CUDA: the first call with a key
  // captures it into a graph (on a capturable stream: not the legacy default stream, where it
  // just runs), later calls with an equal key replay the graph; the CPU just runs it.
  virtual void capture_or_replay(const GraphKey& key, const std::function<void()>& record) {
    (void)key;
    record();
  }

  // Test hook: the GPU a CPU backend plans the GPU recurrences for, running them through their
  // CPU launcher (kernels/block_kernel.h); nullptr (the default): they are not available here.
  virtual const GpuLimits* simulated_gpu() const { return nullptr; }

  // The running counts per step of the recurrence on each lane (direction), in this device's
  // memory for the GPU recurrences: grown, never shrunk, uploaded on the lane.
  IndexBuffer step_counts[2];
};

// A context's backend, for the library's own code (Context::backend() is private: users never
// see the seam).
struct ContextAccess {
  static Backend& backend(const Context& ctx) { return ctx.backend(); }
};
inline Backend& backend_of(const Context& ctx) { return ContextAccess::backend(ctx); }

// fork(lanes) for the scope's lifetime: join() ends it. When an exception leaves the scope
// before join(), the destructor joins, so the backend is never left on a side lane with the
// main lane not waiting for it (an error of that join is dropped: the first error is already
// on its way).
class LaneScope {
 public:
  LaneScope(Backend& backend, int lanes) : backend_(backend) { backend_.fork(lanes); }
  ~LaneScope() {
    if (joined_) return;
    try {
      backend_.join();
    } catch (...) {
    }
  }
  LaneScope(const LaneScope&) = delete;
  LaneScope& operator=(const LaneScope&) = delete;

  void join() {
    joined_ = true;
    backend_.join();
  }

 private:
  Backend& backend_;
  bool joined_ = false;
};

// The CUDA launcher of a functor op, defined in kernels/launch.cuh. Each op type is
// instantiated once, in kernels/ops_instantiate.cu, so host files never see device code. A
// CPU-only build has none; there no backend other than the CPU's can be made.
template <typename Op>
void launch_cuda(const Op& op, CUstream_st* stream);

// Runs `k` on the backend's device and current lane: on the CPU by calling on_cpu(); on CUDA
// through launch_cuda(k, stream) with the backend's device current. A CPU-only build never gets
// there (its Context refuses CUDA devices); if it did, the error names `what`. A functor op finds
// the template above; a block-level kernel finds its own non-template overload by
// argument-dependent lookup (kernels/recurrence_kernels.h), which the template never shadows.
template <typename K, typename OnCpu>
void launch_on(Backend& backend, [[maybe_unused]] const K& k, const OnCpu& on_cpu,
               [[maybe_unused]] const char* what) {
  if (backend.device().is_cpu()) {
    on_cpu();
    return;
  }
#if ELMAN_CUDA_ENABLED
  const CudaDeviceScope on_device(backend.device().index);
  launch_cuda(k, backend.current_stream());
#else
  throw_built_without_cuda(std::string(what) + " on " + backend.device().str());
#endif
}

// Runs a functor op (kernels/functor_op.h, either form) on the backend's device and lane.
template <typename Op>
void run(Backend& backend, const Op& op) {
  launch_on(
      backend, op, [&] { run_op_on_cpu(op); }, "run: a functor op");
}

// Validates GEMM arguments like BLAS's xerbla would, naming the first bad one.
void check_gemm_args(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                     int64_t ldc);

}  // namespace elman::detail
