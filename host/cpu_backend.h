// The CPU backend: the production orchestration's device interface on the host, with OpenBLAS
// for GEMMs and a plain loop as the launcher of every functor op.
#pragma once

#include <cstring>

#include "host/backend.h"

namespace elman::detail {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }
  void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
            int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) override;
  void upload(void* dst, const void* host_src, size_t bytes) override {
    if (bytes) std::memcpy(dst, host_src, bytes);
  }
};

}  // namespace elman::detail
