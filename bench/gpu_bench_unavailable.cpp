// run_gpu_bench for a build without its GPU part (no CUDA in the build, or no cudnn.h): the GPU
// comparison cannot exist, so it says why (ELMAN_BENCH_GPU_ABSENT); --device cpu is unaffected.
#include "bench/bench_config.h"
#include "elman/error.h"

namespace elman::bench {

BenchRun run_gpu_bench(const std::vector<BenchShape>&, const std::vector<StreamShape>&,
                       const BenchConfig&, nlohmann::json&, Rates&) {
  throw Error(
      "elman-bench --device cuda: this elman-bench has no GPU comparison: " ELMAN_BENCH_GPU_ABSENT
      "; use --device cpu");
}

}  // namespace elman::bench
