// CpuBackend's GEMM: cblas_sgemm in column-major, the same argument meaning as cublasSgemm.
#include "host/cpu_backend.h"

#include <cblas.h>

namespace elman::detail {

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

}  // namespace elman::detail
