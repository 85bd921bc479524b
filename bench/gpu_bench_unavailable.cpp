// run_gpu_bench for a build made where cudnn.h was not found: the GPU comparison cannot exist,
// so it says so; --device cpu is unaffected.
#include "bench/bench_config.h"
#include "elman/error.h"

namespace elman::bench {

BenchRun run_gpu_bench(const std::vector<BenchShape>&, const std::vector<StreamShape>&,
                       const BenchConfig&, nlohmann::json&, Rates&) {
  throw Error(
      "elman-bench: built without cuDNN's headers (cudnn.h was not found at configure time), so "
      "the GPU comparison is not available; install cuDNN 9's development files and re-run cmake, "
      "or use --device cpu");
}

}  // namespace elman::bench
