// Why a CUDA test case cannot run in this build on this machine, and the skip that says so:
// CUDA cases are reported as skipped with their reason, never as passed (DESIGN.md §4).
#pragma once

#include <gtest/gtest.h>

#include "elman/device.h"

namespace elman::test {

// nullptr when CUDA cases can run; otherwise the reason ctest shows beside each skipped case.
inline const char* cuda_skip_reason() {
  if (!built_with_cuda()) return "built without CUDA";
  if (cuda_device_count() == 0) return "no CUDA device";
  return nullptr;
}

}  // namespace elman::test

// Must be used in the test body: GTEST_SKIP returns from the calling function.
#define ELMAN_SKIP_WITHOUT_CUDA()                                           \
  do {                                                                      \
    if (const char* elman_skip_reason_ = ::elman::test::cuda_skip_reason()) \
      GTEST_SKIP() << elman_skip_reason_;                                   \
  } while (0)
