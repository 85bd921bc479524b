// Choosing the recurrence's algorithm: kAuto's rule, and the dispatch to each implementation.
#include "host/recurrence.h"

#include <iterator>
#include <string>
#include <utility>

#include "elman/error.h"
#include "host/backend.h"

namespace elman {

namespace {

// Every algorithm with its name, in the order the error messages list them.
constexpr std::pair<Algorithm, const char*> kAlgorithmNames[] = {
    {Algorithm::kAuto, "auto"},
    {Algorithm::kStandard, "standard"},
    {Algorithm::kFused, "fused"},
    {Algorithm::kFusedStep, "fused-step"},
    {Algorithm::kPersistent, "persistent"},
    {Algorithm::kGraph, "graph"},
};

}  // namespace

std::string algorithm_name(Algorithm a) {
  for (const auto& [algorithm, name] : kAlgorithmNames)
    if (algorithm == a) return name;
  return "unknown";
}

Algorithm parse_algorithm(const std::string& name) {
  std::string expected;  // 'auto', 'standard', ... or 'graph'
  const size_t n = std::size(kAlgorithmNames);
  for (size_t i = 0; i < n; ++i) {
    const auto& [algorithm, known] = kAlgorithmNames[i];
    if (name == known) return algorithm;
    expected += std::string(i == 0 ? "" : i + 1 == n ? " or " : ", ") + "'" + known + "'";
  }
  throw Error("algorithm: unknown value '" + name + "', expected " + expected);
}

namespace detail {

Algorithm resolve_algorithm(const char* call, Algorithm requested, const Backend& be) {
  const Device device = be.device();
  switch (requested) {
    // The rule (README "Algorithms"): on the CPU the fused recurrence, which applies to every
    // configuration and is faster than the standard one on every measured shape; on CUDA the
    // standard one, until a GPU run measures the fused step and the persistent recurrence
    // against it (none has yet).
    case Algorithm::kAuto:
      return device.is_cpu() ? Algorithm::kFused : Algorithm::kStandard;
    case Algorithm::kStandard:
      return Algorithm::kStandard;
    case Algorithm::kFused:
      if (!device.is_cpu())
        throw Error(std::string(call) +
                    ": algorithm 'fused' runs on the CPU only, the model is on " + device.str() +
                    " (use 'auto' or 'standard')");
      return Algorithm::kFused;
    case Algorithm::kFusedStep:
    case Algorithm::kPersistent:
      // On the CPU only through the test hook that runs their CPU launcher
      // (Backend::simulated_gpu).
      if (device.is_cpu() && !be.simulated_gpu())
        throw Error(std::string(call) + ": algorithm '" + algorithm_name(requested) +
                    "' runs on CUDA only, the model is on " + device.str() +
                    " (use 'auto', 'standard' or 'fused')");
      return requested;
    case Algorithm::kGraph:
      if (device.is_cpu())
        throw Error(std::string(call) + ": algorithm 'graph' runs on CUDA only, the model is on " +
                    device.str() + " (use 'auto', 'standard' or 'fused')");
      return requested;
  }
  throw Error(std::string(call) + ": algorithm has the value " +
              std::to_string(static_cast<int>(requested)) +
              ", expected kAuto, kStandard, kFused, kFusedStep, kPersistent or kGraph");
}

namespace {

// One direction's implementation of each algorithm.
template <typename Recurrence>
struct Implementations {
  void (*standard)(Backend&, const Recurrence&);
  void (*fused_cpu)(Backend&, const Recurrence&);
  void (*block)(Backend&, const Recurrence&, bool persistent);
  void (*graph)(Backend&, const Recurrence&);
};

template <typename Recurrence>
void dispatch(Backend& be, Algorithm algorithm, const Recurrence& r,
              const Implementations<Recurrence>& impl) {
  if (algorithm == Algorithm::kFused)
    impl.fused_cpu(be, r);
  else if (algorithm == Algorithm::kFusedStep || algorithm == Algorithm::kPersistent)
    impl.block(be, r, algorithm == Algorithm::kPersistent);
  else if (algorithm == Algorithm::kGraph)
    impl.graph(be, r);
  else
    impl.standard(be, r);
}

}  // namespace

void run_forward_recurrence(Backend& be, Algorithm algorithm, const ForwardRecurrence& r) {
  dispatch(be, algorithm, r,
           {standard_forward_recurrence, fused_cpu_forward_recurrence, block_forward_recurrence,
            graph_forward_recurrence});
}

void run_backward_recurrence(Backend& be, Algorithm algorithm, const BackwardRecurrence& r) {
  dispatch(be, algorithm, r,
           {standard_backward_recurrence, fused_cpu_backward_recurrence, block_backward_recurrence,
            graph_backward_recurrence});
}

// Streaming steps (T = 1, every layer) take the standard path on CUDA whatever the algorithm:
// a single step has nothing for a persistent kernel to keep on chip.
void run_step_recurrence(Backend& be, Algorithm algorithm, const StepRecurrence& r) {
  if (algorithm == Algorithm::kFused)
    fused_cpu_step_recurrence(be, r);
  else
    standard_step_recurrence(be, r);
}

}  // namespace detail
}  // namespace elman
