// elman-bench loads cuDNN with dlopen: where libcudnn.so.9 is loadable (LD_LIBRARY_PATH), every
// function it names must resolve; where it is not, the failure must say where to look.
#include <gtest/gtest.h>

#include "bench/cudnn_api.h"

namespace elman::bench {
namespace {

TEST(CudnnLoader, ResolvesEverySymbolOrExplains) {
  std::string why;
  const CudnnApi* api = load_cudnn(&why);
  if (!api) {
    EXPECT_NE(why.find("LD_LIBRARY_PATH"), std::string::npos) << why;
    GTEST_SKIP() << "libcudnn.so.9 not loadable here: " << why;
  }
#define ELMAN_EXPECT_RESOLVED(name) EXPECT_NE(api->name, nullptr) << #name;
  ELMAN_CUDNN_FUNCTIONS(ELMAN_EXPECT_RESOLVED)
#undef ELMAN_EXPECT_RESOLVED
  EXPECT_EQ(api->version / 10000, size_t(CUDNN_MAJOR));
  EXPECT_FALSE(api->library.empty());
  // Calls that need no GPU: the status strings the bench prints in rejections.
  EXPECT_STREQ(api->cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED), "CUDNN_STATUS_NOT_SUPPORTED");
}

}  // namespace
}  // namespace elman::bench
