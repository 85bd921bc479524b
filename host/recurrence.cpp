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
  }
  return "unknown";
}

Algorithm parse_algorithm(const std::string& name) {
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kStandard, Algorithm::kFused})
    if (name == algorithm_name(a)) return a;
  throw Error("algorithm: unknown value '" + name + "', expected 'auto', 'standard' or 'fused'");
}

namespace detail {

Algorithm resolve_algorithm(const char* call, Algorithm requested, Device device) {
  switch (requested) {
    // The rule (README "Algorithms"): on the CPU the fused recurrence, which applies to every
    // configuration and is faster than the standard one on every measured shape; on CUDA the
    // standard one, the only one there so far.
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
  }
  throw Error(std::string(call) + ": algorithm has the value " +
              std::to_string(static_cast<int>(requested)) +
              ", expected kAuto, kStandard or kFused");
}

void run_forward_recurrence(Backend& be, Algorithm algorithm, const ForwardRecurrence& r) {
  if (algorithm == Algorithm::kFused)
    fused_cpu_forward_recurrence(be, r);
  else
    standard_forward_recurrence(be, r);
}

void run_backward_recurrence(Backend& be, Algorithm algorithm, const BackwardRecurrence& r) {
  if (algorithm == Algorithm::kFused)
    fused_cpu_backward_recurrence(be, r);
  else
    standard_backward_recurrence(be, r);
}

void run_step_recurrence(Backend& be, Algorithm algorithm, const StepRecurrence& r) {
  if (algorithm == Algorithm::kFused)
    fused_cpu_step_recurrence(be, r);
  else
    standard_step_recurrence(be, r);
}

}  // namespace detail
}  // namespace elman
