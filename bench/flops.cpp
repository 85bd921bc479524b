// FLOP counts, byte counts, floors and medians (the formulas are stated in flops.h).
#include "bench/flops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bench/varlen.h"
#include "elman/error.h"

namespace elman::bench {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kInference:
      return "inference";
    case Phase::kTrainForward:
      return "train_fwd";
    case Phase::kBackward:
      return "backward";
    case Phase::kStep:
      return "step";
  }
  return "?";
}

static double layer_input(const BenchShape& s, int64_t l) {
  return static_cast<double>(l == 0 ? s.input_size : s.directions() * s.hidden);
}

PhaseCounts flop_counts(const BenchShape& s, const std::vector<int64_t>& lengths) {
  const double steps = double(total_steps(lengths, s.seq_len, s.batch)), H = double(s.hidden);
  double fwd = 0;
  for (int64_t l = 0; l < s.layers; ++l)
    fwd += double(s.directions()) * 2.0 * steps * (layer_input(s, l) * H + H * H);
  PhaseCounts c;
  c.v[int(Phase::kInference)] = fwd;
  c.v[int(Phase::kTrainForward)] = fwd;
  c.v[int(Phase::kBackward)] = 2.0 * fwd;
  c.v[int(Phase::kStep)] = 3.0 * fwd;
  return c;
}

int64_t param_count(const BenchShape& s) {
  int64_t n = 0;
  for (int64_t l = 0; l < s.layers; ++l) {
    const int64_t in = l == 0 ? s.input_size : s.directions() * s.hidden;
    n += s.directions() * (s.hidden * in + s.hidden * s.hidden + 2 * s.hidden);
  }
  return n;
}

PhaseCounts byte_counts(const BenchShape& s, const std::vector<int64_t>& lengths) {
  const double steps = double(total_steps(lengths, s.seq_len, s.batch));
  const double B = double(s.batch), H = double(s.hidden);
  const double DH = double(s.directions()) * H, P = double(param_count(s));
  const double states = double(s.layers) * double(s.directions()) * B * H;  // one [L*D, B, H]
  double fwd = 2.0 * states + P, bwd = 3.0 * states + 3.0 * P;
  for (int64_t l = 0; l < s.layers; ++l) {
    const double x = steps * layer_input(s, l), y = steps * DH;
    fwd += x + y;
    bwd += 2.0 * y + 2.0 * x;
  }
  constexpr double kBytes = 4.0;  // float32
  PhaseCounts c;
  c.v[int(Phase::kInference)] = kBytes * fwd;
  c.v[int(Phase::kTrainForward)] = kBytes * fwd;
  c.v[int(Phase::kBackward)] = kBytes * bwd;
  c.v[int(Phase::kStep)] = kBytes * (fwd + bwd);
  return c;
}

Floors floors(double flops, double bytes, double gemm_flop_per_s, double copy_byte_per_s) {
  if (gemm_flop_per_s <= 0 || copy_byte_per_s <= 0)
    throw Error("floors: the measured rates must be positive, got " +
                std::to_string(gemm_flop_per_s) + " FLOP/s and " + std::to_string(copy_byte_per_s) +
                " B/s");
  return Floors{1e3 * flops / gemm_flop_per_s, 1e3 * bytes / copy_byte_per_s};
}

double tflop_per_s(double flops, double ms) { return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0; }

double median(std::vector<double> values) {
  if (values.empty()) throw Error("median: no values");
  const size_t n = values.size(), mid = n / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  const double upper = values[mid];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return 0.5 * (lower + upper);
}

Summary summarize(const std::vector<double>& ms) {
  Summary s;
  s.median_ms = median(ms);
  s.min_ms = *std::min_element(ms.begin(), ms.end());
  s.max_ms = *std::max_element(ms.begin(), ms.end());
  s.runs = static_cast<int>(ms.size());
  s.samples_ms = ms;
  return s;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (a.size() != b.size()) return kInf;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return kInf;
    const double d = double(a[i]) - double(b[i]);
    diff += d * d;
    norm += double(b[i]) * double(b[i]);
  }
  if (norm == 0) return diff == 0 ? 0.0 : kInf;
  return std::sqrt(diff / norm);
}

}  // namespace elman::bench

namespace elman::bench {

std::string disagreements(const std::map<std::string, double>& errors, double fwd_tol,
                          double grad_tol) {
  std::string bad;
  for (const auto& [what, err] : errors) {
    const bool padding = what.rfind("pad_", 0) == 0;
    const double tol = padding ? 0.0 : what[0] == 'd' ? grad_tol : fwd_tol;
    if (!(err <= tol))
      bad += (bad.empty() ? "" : ", ") + what +
             (padding ? " has " + std::to_string(int64_t(err)) + " nonzero value(s) past the ends"
                      : " rel. error " + std::to_string(err) + " > " + std::to_string(tol));
  }
  return bad;
}

}  // namespace elman::bench
