// Argument checks shared by every Backend's GEMM.
#include "host/backend.h"

#include <algorithm>
#include <climits>
#include <sstream>

#include "elman/error.h"

namespace elman::detail {

void check_gemm_args(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                     int64_t ldc) {
  auto fail = [&](const char* what, int64_t given, int64_t at_least) {
    std::ostringstream os;
    os << "gemm: " << what << " = " << given << ", expected >= " << at_least << " (m=" << m
       << ", n=" << n << ", k=" << k << ")";
    throw Error(os.str());
  };
  if (m < 0) fail("m", m, 0);
  if (n < 0) fail("n", n, 0);
  if (k < 0) fail("k", k, 0);
  const int64_t rows_a = ta == Trans::kN ? m : k;
  const int64_t rows_b = tb == Trans::kN ? k : n;
  if (lda < std::max<int64_t>(1, rows_a)) fail("lda", lda, std::max<int64_t>(1, rows_a));
  if (ldb < std::max<int64_t>(1, rows_b)) fail("ldb", ldb, std::max<int64_t>(1, rows_b));
  if (ldc < std::max<int64_t>(1, m)) fail("ldc", ldc, std::max<int64_t>(1, m));
  for (int64_t v : {m, n, k, lda, ldb, ldc})
    if (v > INT_MAX) throw Error("gemm: dimension " + std::to_string(v) + " exceeds INT_MAX");
}

}  // namespace elman::detail
