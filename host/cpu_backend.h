// The CPU backend: the production orchestration's device interface on the host, with OpenBLAS
// for GEMMs, a plain loop as the launcher of every functor op, and for the fused recurrence
// (host/cpu/) a persistent thread pool and the SIMD kernels of this processor.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "host/backend.h"
#include "host/cpu/kernels.h"
#include "host/cpu/thread_pool.h"

namespace elman::detail {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  ~CpuBackend() override;
  Device device() const override { return Device::cpu(); }
  void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
            int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) override;
  void upload(void* dst, const void* host_src, size_t bytes) override {
    if (bytes) std::memcpy(dst, host_src, bytes);
  }

  // Threads of the fused recurrence (Context::set_num_threads): the default is the environment's
  // ELMAN_NUM_THREADS, else the cores this process may use, at most kMaxDefaultThreads.
  static constexpr int kMaxDefaultThreads = 16;
  int num_threads() const { return num_threads_; }
  void set_num_threads(int n);
  // The threads the next fused call may use: num_threads(), or 1 for a while after calls whose
  // threads kept waiting for a descheduled partner. On a machine with more runnable threads than
  // cores every barrier can cost a scheduler time slice, and one thread is then faster; results
  // do not depend on the thread count (tests/algorithm_test.cpp), only the time does.
  int threads_for_next_call();
  // What the last multi-threaded call saw: its waits that outlasted the spin, out of `waits`.
  void report_waits(int slow_waits, int waits);
  // Tests turn the fallback to one thread off, so a busy machine still runs their threads.
  void set_adapt_to_load(bool adapt) { adapt_to_load_ = adapt; }
  // The pool of num_threads() threads, started on first use.
  cpu::ThreadPool& pool();
  // The work (FLOPs per step) that one thread should have before the fused recurrence adds
  // another (host/cpu/fused_recurrence.cpp); tests set 0 to split even the smallest shapes.
  double min_flops_per_thread() const { return min_flops_per_thread_; }
  void set_min_flops_per_thread(double flops) { min_flops_per_thread_ = flops; }

  // Test hook: run the GPU algorithms (kFusedStep, kPersistent) through their CPU launcher,
  // planned for a GPU with these limits (tests pick small ones, so blocks own several columns).
  void set_simulated_gpu(const GpuLimits& gpu) {
    simulated_gpu_ = gpu;
    has_simulated_gpu_ = true;
  }
  const GpuLimits* simulated_gpu() const override {
    return has_simulated_gpu_ ? &simulated_gpu_ : nullptr;
  }

  // Scratch of at least n floats for the fused recurrence (packed weights), kept between calls
  // and grown, never shrunk, so a loop of calls allocates once. Contents unspecified.
  float* scratch(int64_t n) {
    if (scratch_.size() < static_cast<size_t>(n)) scratch_.resize(static_cast<size_t>(n));
    return scratch_.data();
  }

  // The SIMD kernels: the widest instruction set the processor supports, or one set by tests.
  const cpu::Kernels& kernels() const { return *kernels_; }
  void set_kernels(const cpu::Kernels& kernels) { kernels_ = &kernels; }

 private:
  int num_threads_;
  // About 5 us of one core's FMA work: a barrier between steps costs 0.3-0.8 us and a dispatch
  // 1.5-3 us (measured on 2 shared cores, host/cpu/README.md), so a thread's share of a step
  // should be well above that.
  double min_flops_per_thread_ = 256e3;
  int single_threaded_calls_ = 0;  // calls left to run on one thread (threads_for_next_call)
  bool adapt_to_load_ = true;
  std::unique_ptr<cpu::ThreadPool> pool_;
  const cpu::Kernels* kernels_;
  std::vector<float> scratch_;
  GpuLimits simulated_gpu_{};
  bool has_simulated_gpu_ = false;
};

}  // namespace elman::detail
