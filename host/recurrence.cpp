// Choosing the recurrence's algorithm: kAuto's rule, and the dispatch to each implementation.
#include "host/recurrence.h"

#include "elman/error.h"
#include "host/backend.h"

namespace elman {

std::string algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kAuto:
      return "auto";
    case Algorithm::kStandard:
      return "standard";
    case Algorithm::kFused:
      return "fused";
    case Algorithm::kFusedStep:
      return "fused-step";
    case Algorithm::kPersistent:
      return "persistent";
    case Algorithm::kGraph:
      return "graph";
  }
  return "unknown";
}

Algorithm parse_algorithm(const std::string& name) {
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kStandard, Algorithm::kFused,
                      Algorithm::kFusedStep, Algorithm::kPersistent, Algorithm::kGraph})
    if (name == algorithm_name(a)) return a;
  throw Error("algorithm: unknown value '" + name +
              "', expected 'auto', 'standard', 'fused', 'fused-step', 'persistent' or 'graph'");
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

void run_forward_recurrence(Backend& be, Algorithm algorithm, const ForwardRecurrence& r) {
  if (algorithm == Algorithm::kFused)
    fused_cpu_forward_recurrence(be, r);
  else if (algorithm == Algorithm::kFusedStep || algorithm == Algorithm::kPersistent)
    block_forward_recurrence(be, r, algorithm == Algorithm::kPersistent);
  else if (algorithm == Algorithm::kGraph)
    graph_forward_recurrence(be, r);
  else
    standard_forward_recurrence(be, r);
}

void run_backward_recurrence(Backend& be, Algorithm algorithm, const BackwardRecurrence& r) {
  if (algorithm == Algorithm::kFused)
    fused_cpu_backward_recurrence(be, r);
  else if (algorithm == Algorithm::kFusedStep || algorithm == Algorithm::kPersistent)
    block_backward_recurrence(be, r, algorithm == Algorithm::kPersistent);
  else if (algorithm == Algorithm::kGraph)
    graph_backward_recurrence(be, r);
  else
    standard_backward_recurrence(be, r);
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
