// Settings shared by the GPU and CPU sides of elman-bench, and their two entry points.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/report.h"
#include "bench/streaming.h"

namespace elman::bench {

struct BenchConfig {
  int runs = 20;            // timed runs per phase (median reported); at least 20
  int warmup = 3;           // untimed runs before them
  int rotations = 3;        // input sets cycled through, so no run reuses the previous run's inputs
  uint64_t seed = 1;        // weights and inputs
  bool cudnn_tf32 = false;  // allow cuDNN TF32 tensor cores (elman is plain FP32 either way)
  std::string python;       // interpreter for the PyTorch side (--device cpu)
  std::string script;       // bench/pytorch_cpu.py
  int threads = 0;          // the CPU peers' threads, PyTorch's and oneDNN's (0: all cores)
  int stream_steps = 1000;  // streaming: measured steps per shape (median reported); >= 1000
  int stream_warmup = 50;   // streaming: untimed steps before them (the state carried through)
};

// What one run measured: a result per shape (full-length and varlen rows) and per streaming
// shape.
struct BenchRun {
  std::vector<ShapeResult> shapes;
  std::vector<StreamResult> streaming;
};

// Each returns one result per shape and per streaming shape, and fills `env` (device, versions)
// and `rates` (floors). A progress line per shape goes to stderr. Throws elman::Error when the
// side cannot run at all (no CUDA device, no cuDNN).
BenchRun run_gpu_bench(const std::vector<BenchShape>& shapes,
                       const std::vector<StreamShape>& stream_shapes, const BenchConfig& config,
                       nlohmann::json& env, Rates& rates);
BenchRun run_cpu_bench(const std::vector<BenchShape>& shapes,
                       const std::vector<StreamShape>& stream_shapes, const BenchConfig& config,
                       nlohmann::json& env, Rates& rates);

// Values U(-1, 1) from a splitmix64 stream: fast enough for the largest inputs of the grid.
std::vector<float> random_values(int64_t n, uint64_t seed);

}  // namespace elman::bench
