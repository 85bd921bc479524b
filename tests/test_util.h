// Helpers shared by the test suite: seeded random data, the relative-error check of DESIGN.md §4
// (NaN never passes), NaN-poisoned result tensors, and running the double reference on a model.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "elman/elman.h"
#include "host/cpu/kernels.h"
#include "host/cpu_backend.h"
#include "host/init.h"
#include "host/param_layout.h"
#include "host/reference.h"
#include "tests/cuda_skip.h"

namespace elman::test {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Where a table-driven case runs: a device and a recurrence algorithm; for the CPU's fused one
// also its kernels' instruction set (kernels) and, when threads > 0, that many threads on every
// shape, however small (so the split of the hidden units among threads is tested too). CUDA
// cases skip, visibly, where they cannot run (cuda_skip.h); so do kernels this processor lacks.
// The GPU algorithms run on the CPU through their CPU launcher, planned for the GPU `simulated`
// names: "h200" (the target) or "tiny" (3 SMs of 32 threads: blocks own several columns).
struct Where {
  bool cuda = false;
  Algorithm algorithm = Algorithm::kStandard;
  std::string kernels;  // fused: "baseline", "avx2", "avx512", or "avx2x16" (tests' own build)
  int threads = 0;
  std::string simulated;  // kFusedStep, kPersistent on the CPU: "h200" or "tiny"

  static const Where kCPU, kCUDA;  // the standard algorithm, on either device
  bool operator==(const Where& o) const {
    return cuda == o.cuda && algorithm == o.algorithm && kernels == o.kernels &&
           threads == o.threads && simulated == o.simulated;
  }
};
inline const Where Where::kCPU{false, Algorithm::kStandard, "", 0, ""};
inline const Where Where::kCUDA{true, Algorithm::kStandard, "", 0, ""};

// Every algorithm on every device: the CPU's fused one once per vector width (4: baseline,
// 8: AVX2 as the library picks its threads, 16: AVX-512, and AVX-512's blocking compiled for
// AVX2 so any x86-64 test machine runs it), the other widths with the hidden units split among
// 2 or 3 threads on every shape; the GPU algorithms on CUDA and through their CPU launcher.
inline std::vector<Where> every_algorithm() {
  const Algorithm kFused = Algorithm::kFused, kStep = Algorithm::kFusedStep,
                  kPersistent = Algorithm::kPersistent;
  return {Where::kCPU,
          Where{false, kFused, "baseline", 3, ""},
          Where{false, kFused, "avx2", 0, ""},
          Where{false, kFused, "avx2x16", 2, ""},
          Where{false, kFused, "avx512", 3, ""},
          Where{false, kStep, "", 0, "h200"},
          Where{false, kStep, "", 0, "tiny"},
          Where{false, kPersistent, "", 0, "h200"},
          Where{false, kPersistent, "", 0, "tiny"},
          Where::kCUDA,
          Where{true, kStep, "", 0, ""},
          Where{true, kPersistent, "", 0, ""},
          Where{true, Algorithm::kGraph, "", 0, ""}};
}

// The GPU a Where's `simulated` names (tiny: several columns per block and dot products split
// among threads on the grid's small shapes).
inline detail::GpuLimits simulated_gpu(const std::string& name) {
  return name == "tiny" ? detail::GpuLimits{3, 32, 227 * 1024} : detail::GpuLimits::kH200;
}

inline Device device_of(const Where& w) { return w.cuda ? Device::cuda(0) : Device::cpu(); }
inline std::string where_name(const Where& w) {
  std::string name = std::string(w.cuda ? "cuda" : "cpu") + "_" + algorithm_name(w.algorithm);
  if (!w.kernels.empty()) name += "_" + w.kernels;
  if (w.threads > 0) name += "_" + std::to_string(w.threads) + "threads";
  if (!w.simulated.empty()) name += "_launcher_" + w.simulated;
  std::replace(name.begin(), name.end(), '-', '_');  // gtest's names: letters, digits and _
  return name;
}
inline void PrintTo(const Where& w, std::ostream* os) { *os << where_name(w); }  // gtest's

// The fused algorithm's kernels named by Where::kernels, or nullptr where this processor (or
// this build) lacks them.
const detail::cpu::Kernels* avx2x16_kernels();  // tests/cpu_kernels_avx2x16.cpp
inline const detail::cpu::Kernels* kernels_of(const Where& w) {
  using detail::cpu::Isa;
  if (w.kernels == "avx2x16")
    return detail::cpu::kernels_for(Isa::kAvx2) ? avx2x16_kernels() : nullptr;
  for (Isa isa : {Isa::kBaseline, Isa::kAvx2, Isa::kAvx512})
    if (w.kernels == detail::cpu::isa_name(isa)) return detail::cpu::kernels_for(isa);
  return nullptr;
}

// Why a case cannot run here, or "" when it can.
inline std::string skip_reason(const Where& w) {
  if (w.cuda && cuda_skip_reason()) return cuda_skip_reason();  // cuda_skip.h
  if (!w.kernels.empty() && !kernels_of(w)) return "this processor lacks " + w.kernels;
  return "";
}

// Must be used in the test body: GTEST_SKIP returns from the calling function.
#define ELMAN_SKIP_IF_NO_DEVICE(where)                                 \
  do {                                                                 \
    const std::string elman_skip_ = ::elman::test::skip_reason(where); \
    if (!elman_skip_.empty()) GTEST_SKIP() << elman_skip_;             \
  } while (0)

// A context on w's device, its CPU kernels and threads as w says.
inline Context make_context(const Where& w) {
  Context ctx(device_of(w));
  if (!w.simulated.empty())
    static_cast<detail::CpuBackend&>(detail::backend_of(ctx))
        .set_simulated_gpu(simulated_gpu(w.simulated));
  if (!w.kernels.empty()) {
    auto& cpu = static_cast<detail::CpuBackend&>(detail::backend_of(ctx));
    cpu.set_kernels(*kernels_of(w));
    if (w.threads > 0) {  // exactly w.threads, on every shape, however busy the machine
      ctx.set_num_threads(w.threads);
      cpu.set_min_flops_per_thread(0);
      cpu.set_adapt_to_load(false);
    }
  }
  return ctx;
}

// A model on `ctx` with w's algorithm.
inline RNN make_rnn(Context& ctx, const Where& w, const RNNOptions& o, uint64_t seed) {
  RNN rnn(ctx, o, seed);
  rnn.set_algorithm(w.algorithm);
  return rnn;
}

// Uniform values in [-scale, scale] from a seeded generator, mapped as the initialisation maps
// its draws (host/init.h: the same values on every machine).
inline std::vector<double> random_vector(int64_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = detail::uniform_value(gen(), scale);
  return v;
}

// Values that are exactly representable in float, so float and double runs see the same input.
inline std::vector<double> random_floats(int64_t n, uint64_t seed, double scale = 1.0) {
  std::vector<double> v = random_vector(n, seed, scale);
  for (double& x : v) x = static_cast<double>(static_cast<float>(x));
  return v;
}

inline std::vector<float> to_float(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}
inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}
inline std::vector<double> host_values(const Tensor& t) { return to_double(t.to_vector()); }

// ||a - b|| / max(||b||, floor): relative error, judged absolutely (at tol * floor) when b is
// smaller than `floor` (floor 0 and b all zeros: absolute ||a - b||). Any non-finite element of
// a or b, or a size mismatch, is a failure: NaN never passes (DESIGN.md §4).
inline ::testing::AssertionResult close(const std::string& what, const std::vector<double>& a,
                                        const std::vector<double>& b, double tol,
                                        double floor = 0) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure()
           << what << ": " << a.size() << " values, expected " << b.size();
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i]))
      return ::testing::AssertionFailure() << what << ": element " << i << " is not finite (got "
                                           << a[i] << ", expected " << b[i] << ")";
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    ref += b[i] * b[i];
  }
  diff = std::sqrt(diff);
  ref = std::sqrt(ref);
  const double scale = std::max(ref, floor);
  const double err = scale > 0 ? diff / scale : diff;
  if (err <= tol) return ::testing::AssertionSuccess();
  size_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::fabs(a[i] - b[i]) > std::fabs(a[worst] - b[worst])) worst = i;
  return ::testing::AssertionFailure()
         << what << ": relative error " << err << " > " << tol << " (||b|| = " << ref
         << ", worst element " << worst << ": got " << a[worst] << ", expected " << b[worst] << ")";
}
inline ::testing::AssertionResult close(const std::string& what, const Tensor& a,
                                        const std::vector<double>& b, double tol,
                                        double floor = 0) {
  return close(what, host_values(a), b, tol, floor);
}

// Bitwise-equal float vectors (NaN fails): for results that must not change at all.
inline ::testing::AssertionResult identical(const std::string& what, const std::vector<float>& a,
                                            const std::vector<float>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure()
           << what << ": " << a.size() << " values, expected " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i]))
      return ::testing::AssertionFailure()
             << what << ": element " << i << " is " << a[i] << ", expected " << b[i];
  return ::testing::AssertionSuccess();
}

inline std::string options_str(const RNNOptions& o) {
  std::ostringstream os;
  os << "I" << o.input_size << "_H" << o.hidden_size << "_L" << o.num_layers << "_"
     << nonlinearity_name(o.nonlinearity) << (o.bias ? "" : "_nobias")
     << (o.batch_first ? "_bf" : "") << (o.bidirectional ? "_bi" : "");
  return os.str();
}

inline RNNOptions make_options(int64_t input_size, int64_t hidden_size, int64_t num_layers,
                               Nonlinearity nl, bool bidirectional, bool batch_first,
                               bool bias = true) {
  RNNOptions o;
  o.input_size = input_size;
  o.hidden_size = hidden_size;
  o.num_layers = num_layers;
  o.nonlinearity = nl;
  o.bidirectional = bidirectional;
  o.batch_first = batch_first;
  o.bias = bias;
  return o;
}

inline Shape input_shape(const RNNOptions& o, int64_t T, int64_t B) {
  return o.batch_first ? Shape{B, T, o.input_size} : Shape{T, B, o.input_size};
}
inline Shape output_shape(const RNNOptions& o, int64_t T, int64_t B) {
  const int64_t w = o.num_directions() * o.hidden_size;
  return o.batch_first ? Shape{B, T, w} : Shape{T, B, w};
}
inline Shape state_shape(const RNNOptions& o, int64_t B) {
  return {o.num_layers * o.num_directions(), B, o.hidden_size};
}

// A tensor of `shape` on `device` filled with NaN: a result that must be overwritten entirely.
inline Tensor poisoned(const Shape& shape, Device device) {
  return Tensor::full(shape, kNaN, device);
}

// Reference weights in double from a flat vector laid out as make_param_layout(o) says
// (reference::weights_from_flat takes floats; the gradient check and PyTorch fixtures need
// doubles).
inline reference::Weights<double> weights_from_doubles(const RNNOptions& o,
                                                       const std::vector<double>& f) {
  const detail::ParamLayout layout = detail::make_param_layout(o);
  reference::Weights<double> w;
  const int64_t H = o.hidden_size;
  for (size_t k = 0; k < layout.cells.size(); ++k) {
    const auto& off = layout.cells[k];
    const int64_t I = o.layer_input_size(static_cast<int64_t>(k) / o.num_directions());
    reference::Cell<double> cell;
    cell.w_ih.assign(f.begin() + off.w_ih, f.begin() + off.w_ih + H * I);
    cell.w_hh.assign(f.begin() + off.w_hh, f.begin() + off.w_hh + H * H);
    if (o.bias) {
      cell.b_ih.assign(f.begin() + off.b_ih, f.begin() + off.b_ih + H);
      cell.b_hh.assign(f.begin() + off.b_hh, f.begin() + off.b_hh + H);
    }
    w.push_back(cell);
  }
  return w;
}

// The double reference run on a model's current (float) parameters.
struct ReferenceRun {
  reference::Forward<double> fwd;
  reference::Gradients<double> grads;
  std::vector<double> flat_grads;  // in parameter_names() order, like RNN::flat_grads()
};

inline ReferenceRun run_reference(const RNN& rnn_const, const std::vector<double>& input, int64_t T,
                                  int64_t B, const std::vector<double>* h0,
                                  const std::vector<double>* grad_output,
                                  const std::vector<double>* grad_h_n) {
  RNN& rnn = const_cast<RNN&>(rnn_const);
  const RNNOptions& o = rnn.options();
  const auto w = reference::weights_from_flat<double>(o, rnn.flat_parameters().to_vector());
  ReferenceRun r;
  r.fwd = reference::forward<double>(o, w, input, T, B, h0);
  r.grads = reference::backward<double>(o, w, input, T, B, h0, r.fwd, grad_output, grad_h_n);
  r.flat_grads = reference::flat_from_weights<double>(o, r.grads.weights);
  return r;
}

// Expects `call` to throw elman::Error whose message contains every string of `parts`.
#define ELMAN_EXPECT_ERROR(call, ...)                                                  \
  do {                                                                                 \
    bool elman_thrown_ = false;                                                        \
    try {                                                                              \
      call;                                                                            \
    } catch (const ::elman::Error& e) {                                                \
      elman_thrown_ = true;                                                            \
      const std::string elman_msg_ = e.what();                                         \
      for (const std::string& part : std::vector<std::string>{__VA_ARGS__})            \
        EXPECT_NE(elman_msg_.find(part), std::string::npos)                            \
            << "message \"" << elman_msg_ << "\" does not contain \"" << part << "\""; \
    } catch (const std::exception& e) {                                                \
      ADD_FAILURE() << #call << " threw a non-elman exception: " << e.what();          \
      elman_thrown_ = true;                                                            \
    }                                                                                  \
    EXPECT_TRUE(elman_thrown_) << #call << " did not throw elman::Error";              \
  } while (0)

}  // namespace elman::test
