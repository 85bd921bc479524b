// The CPU backend: the production orchestration's device interface on the host, with OpenBLAS
// for GEMMs, a plain loop as the launcher of every functor op, and for the fused recurrence
// (host/cpu/) a persistent thread pool and the SIMD kernels of this processor.
#pragma once

#include <cstring>
#include <memory>

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

  // Threads of the fused recurrence (Context::set_num_threads): the default is the cores this
  // process may use, at most kMaxDefaultThreads.
  static constexpr int kMaxDefaultThreads = 16;
  int num_threads() const { return num_threads_; }
  void set_num_threads(int n);
  // The pool of num_threads() threads, started on first use.
  cpu::ThreadPool& pool();
  // The work (FLOPs per step) that one thread should have before the fused recurrence adds
  // another (host/cpu/fused_recurrence.cpp); tests set 0 to split even the smallest shapes.
  double min_flops_per_thread() const { return min_flops_per_thread_; }
  void set_min_flops_per_thread(double flops) { min_flops_per_thread_ = flops; }

  // The SIMD kernels: the widest instruction set the processor supports, or one set by tests.
  const cpu::Kernels& kernels() const { return *kernels_; }
  void set_kernels(const cpu::Kernels& kernels) { kernels_ = &kernels; }

 private:
  int num_threads_;
  // About 1 us of one core's FMA work: a barrier between steps costs a few hundred ns when the
  // threads spin, so a thread's share of a step should be larger than that.
  double min_flops_per_thread_ = 64e3;
  std::unique_ptr<cpu::ThreadPool> pool_;
  const cpu::Kernels* kernels_;
};

}  // namespace elman::detail
