// The arithmetic behind every number the bench prints besides times: FLOP counts (DESIGN.md §5),
// the minimal bytes each phase must move, the two floors, and median summaries of timed runs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/shapes.h"

namespace elman::bench {

// The four timed phases, the same on every side (elman, cuDNN, PyTorch).
enum class Phase { kInference, kTrainForward, kBackward, kStep };
constexpr int kNumPhases = 4;
const char* phase_name(Phase p);  // "inference", "train_fwd", "backward", "step"

struct PhaseCounts {
  double v[kNumPhases] = {0, 0, 0, 0};
  double operator[](Phase p) const { return v[static_cast<int>(p)]; }
};

// Forward = sum over layers and directions of 2*T*B*(I_l*H + H*H), I_l = input for layer 0 and
// D*H above; training forward = inference; backward (data + weights) = 2 x forward; step = 3 x.
// With `lengths` (a varlen row), T*B becomes the sum of the sequences' own lengths: padded steps
// are not work.
PhaseCounts flop_counts(const BenchShape& s, const std::vector<int64_t>& lengths = {});
// Parameters (weights and both biases) of all layers and directions.
int64_t param_count(const BenchShape& s);
// A lower bound on DRAM traffic in bytes, every tensor read or written once (float32):
//   forward: per layer read x_l [T,B,I_l] and the weights, write y_l [T,B,D*H]; read h0 and
//            write h_n [L*D,B,H];
//   backward: per layer read dy_l, y_l [T,B,D*H] and x_l, write dx_l [T,B,I_l], read the
//            weights, read and write their gradients; read h0 and dh_n, write dh0;
//   step: forward + backward.
// With `lengths`, the T*B rows of x, y, dx and dy become the sum of the lengths (the padding need
// not be read; writing its zeros is not counted).
PhaseCounts byte_counts(const BenchShape& s, const std::vector<int64_t>& lengths = {});

// The floors of DESIGN.md §5, in ms: flops over the measured GEMM rate (FLOP/s) and bytes over
// the measured copy bandwidth (bytes/s, read + write counted).
struct Floors {
  double compute_ms = 0;
  double memory_ms = 0;
};
Floors floors(double flops, double bytes, double gemm_flop_per_s, double copy_byte_per_s);
double tflop_per_s(double flops, double ms);

// Median, minimum and maximum of per-run times.
struct Summary {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int runs = 0;
  std::vector<double> samples_ms;  // every run, in order
};
double median(std::vector<double> values);  // throws elman::Error when empty
Summary summarize(const std::vector<double>& ms);

// Agreement between two float32 results: ||a - b|| / ||b|| in double; +inf when the sizes differ
// or any value is not finite (NaN never passes); 0 when both are all zeros.
double relative_error(const std::vector<float>& a, const std::vector<float>& b);

// Tolerances of the agreement checks (relative error as above). Each float32 side is within
// DESIGN.md §4's 1e-5 (forward) and 1e-4 (gradients) of the float64 truth on the test suite's
// shapes; bench shapes are up to 20x wider and 4x longer, and rounding error grows with the
// length of each dot product and of the chain through time, so both bounds get a 10x margin.
// With TF32 allowed in cuDNN (--cudnn-tf32), DESIGN.md's TF32 bound of 1e-3 gets the same margin.
constexpr double kForwardTolerance = 1e-4;
constexpr double kGradientTolerance = 1e-3;
constexpr double kTf32Tolerance = 1e-2;
// Streaming: elman's step_into over N steps against elman's own full forward over the same
// sequence. Both run the same kernels on the same values in a different grouping (one GEMM over
// all T*B rows of the input projection against one per step), so only the summation order of
// the input GEMM may differ: 1e-5 relative, DESIGN.md §4's forward bound.
constexpr double kStreamTolerance = 1e-5;

// The verdict on a map of relative errors (as relative_error() gives): "" when all pass, else a
// list of the failures. A key starting with 'd' is a gradient (grad_tol), a key starting with
// "pad_" is a count of nonzero values past a sequence's end (must be 0), any other a forward
// result (fwd_tol).
std::string disagreements(const std::map<std::string, double>& errors, double fwd_tol,
                          double grad_tol);
}  // namespace elman::bench
