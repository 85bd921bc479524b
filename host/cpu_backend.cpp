// CpuBackend: cblas_sgemm in column-major (the same argument meaning as cublasSgemm), and the
// fused recurrence's thread pool and kernels.
#include "host/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "elman/error.h"

namespace elman::detail {

namespace {
// ELMAN_NUM_THREADS if set (like OMP_NUM_THREADS), else the cores this process may use, capped.
int default_threads() {
  const char* env = std::getenv("ELMAN_NUM_THREADS");
  if (!env || !*env) return std::min(cpu::available_cores(), CpuBackend::kMaxDefaultThreads);
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < 1 || n > 4096)
    throw Error(std::string("Context: ELMAN_NUM_THREADS = '") + env +
                "', expected a thread count in [1, 4096]");
  return static_cast<int>(n);
}
}  // namespace

CpuBackend::CpuBackend()
    : num_threads_(default_threads()), kernels_(cpu::kernels_for(cpu::best_isa())) {}

CpuBackend::~CpuBackend() = default;

void CpuBackend::gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                      float* C, int64_t ldc) {
  check_gemm_args(ta, tb, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  auto to_cblas = [](Trans t) { return t == Trans::kN ? CblasNoTrans : CblasTrans; };
  cblas_sgemm(CblasColMajor, to_cblas(ta), to_cblas(tb), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
              C, static_cast<int>(ldc));
}

void CpuBackend::set_num_threads(int n) {
  if (n < 1) throw Error("Context::set_num_threads: n = " + std::to_string(n) + ", expected >= 1");
  if (n != num_threads_) pool_.reset();
  num_threads_ = n;
}

int CpuBackend::threads_for_next_call() {
  if (single_threaded_calls_ == 0) return num_threads_;
  --single_threaded_calls_;
  return 1;
}

void CpuBackend::report_waits(int slow_waits, int waits) {
  // More than one wait in 8 outlasting the spin: oversubscribed. Run the next calls on one
  // thread, then try again (the load may have gone).
  constexpr int kSingleThreadedCalls = 64;
  if (adapt_to_load_ && slow_waits * 8 > waits) single_threaded_calls_ = kSingleThreadedCalls;
}

cpu::ThreadPool& CpuBackend::pool() {
  if (!pool_) pool_ = std::make_unique<cpu::ThreadPool>(num_threads_);
  return *pool_;
}

}  // namespace elman::detail
