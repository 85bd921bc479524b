// The production backends (CPU and CUDA, float32) against the double reference on a table of
// shapes x configurations, every result NaN-poisoned before the run (DESIGN.md §4).
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace elman::test {
namespace {

struct ShapeCase {
  RNNOptions o;
  int64_t T, B;
  bool has_h0 = true, has_grad_output = true, has_grad_h_n = true;
};

std::string shape_case_name(const ShapeCase& c) {
  return options_str(c.o) + "_T" + std::to_string(c.T) + "_B" + std::to_string(c.B) +
         (c.has_h0 ? "_h0" : "_noh0") + (c.has_grad_output ? "_gout" : "") +
         (c.has_grad_h_n ? "_ghn" : "");
}

void PrintTo(const ShapeCase& c, std::ostream* os) { *os << shape_case_name(c); }

std::vector<ShapeCase> shape_grid() {
  using N = Nonlinearity;
  std::vector<ShapeCase> c;
  //            I   H  L  nonlinearity  bi     bf      T   B
  c.push_back({make_options(5, 7, 1, N::kTanh, false, false), 9, 3});
  c.push_back({make_options(1, 1, 1, N::kTanh, false, false), 1, 1});  // T = B = H = I = 1
  c.push_back({make_options(3, 1, 2, N::kTanh, true, false), 6, 4});   // H = 1, stacked bi
  c.push_back({make_options(4, 3, 1, N::kReLU, false, false), 1, 5});  // T = 1
  c.push_back({make_options(6, 5, 2, N::kTanh, false, true), 7, 1});   // B = 1, batch_first
  c.push_back({make_options(13, 17, 2, N::kReLU, true, true), 11, 5});
  c.push_back({make_options(7, 9, 3, N::kReLU, true, true), 1, 3});  // T = 1, 3 layers bi bf
  c.push_back({make_options(7, 9, 3, N::kTanh, true, true), 5, 6});
  c.push_back({make_options(33, 65, 1, N::kTanh, false, false), 6, 9});   // not multiples of 8
  c.push_back({make_options(16, 32, 2, N::kTanh, true, false), 8, 8});    // multiples of 8
  c.push_back({make_options(64, 128, 1, N::kTanh, true, true), 12, 16});  // BLAS blocking sizes
  c.push_back({make_options(2, 6, 1, N::kTanh, false, false), 50, 1});    // longer, B = 1
  c.push_back({make_options(5, 4, 2, N::kTanh, true, false, /*bias=*/false), 4, 3});
  c.push_back({make_options(5, 4, 2, N::kReLU, false, true, /*bias=*/false), 4, 3});
  // Missing h0 and each upstream gradient absent.
  ShapeCase no_h0{make_options(3, 5, 2, N::kReLU, true, true), 6, 3};
  no_h0.has_h0 = false;
  c.push_back(no_h0);
  ShapeCase gout_only{make_options(3, 5, 2, N::kTanh, true, false), 6, 3};
  gout_only.has_grad_h_n = false;
  c.push_back(gout_only);
  ShapeCase ghn_only{make_options(3, 5, 3, N::kTanh, true, true), 6, 3};
  ghn_only.has_grad_output = false;
  ghn_only.has_h0 = false;
  c.push_back(ghn_only);
  ShapeCase ghn_only_relu{make_options(4, 3, 2, N::kReLU, false, false), 5, 2};
  ghn_only_relu.has_grad_output = false;
  c.push_back(ghn_only_relu);
  return c;
}

class BackendVsReference : public ::testing::TestWithParam<std::tuple<ShapeCase, Where>> {};

TEST_P(BackendVsReference, ForwardAndBackwardMatchReference) {
  const auto& [c, where] = GetParam();
  ELMAN_SKIP_IF_NO_DEVICE(where);
  const Device dev = device_of(where);
  const RNNOptions& o = c.o;
  Context ctx = make_context(where);
  RNN rnn = make_rnn(ctx, where, o, /*seed=*/7);

  const Shape in_shape = input_shape(o, c.T, c.B), out_shape = output_shape(o, c.T, c.B);
  const Shape st_shape = state_shape(o, c.B);
  const std::vector<double> x = random_floats(shape_numel(in_shape), 101);
  const std::vector<double> h0 = random_floats(shape_numel(st_shape), 102, 0.5);
  const std::vector<double> go = random_floats(shape_numel(out_shape), 103);
  const std::vector<double> ghn = random_floats(shape_numel(st_shape), 104);
  const Tensor input = Tensor::from_vector(in_shape, to_float(x), dev);
  const Tensor h0_t = c.has_h0 ? Tensor::from_vector(st_shape, to_float(h0), dev) : Tensor();
  const Tensor go_t =
      c.has_grad_output ? Tensor::from_vector(out_shape, to_float(go), dev) : Tensor();
  const Tensor ghn_t =
      c.has_grad_h_n ? Tensor::from_vector(st_shape, to_float(ghn), dev) : Tensor();
  const ReferenceRun ref =
      run_reference(rnn, x, c.T, c.B, c.has_h0 ? &h0 : nullptr, c.has_grad_output ? &go : nullptr,
                    c.has_grad_h_n ? &ghn : nullptr);

  // float32 vs the float64 reference (DESIGN.md §4): 1e-5 for forward, 1e-4 for gradients.
  constexpr double kForwardTol = 1e-5, kGradTol = 1e-4;

  // Inference forward, into NaN-filled results: every element must be written, in place (a
  // result replaced by a fresh allocation would make the poison meaningless).
  RNNOutput inference{poisoned(out_shape, dev), poisoned(st_shape, dev)};
  const float* inference_storage[] = {inference.output.data(), inference.h_n.data()};
  rnn.forward_into(input, h0_t, inference);
  ASSERT_EQ(inference.output.data(), inference_storage[0]) << "output not written in place";
  ASSERT_EQ(inference.h_n.data(), inference_storage[1]) << "h_n not written in place";
  EXPECT_TRUE(close("inference output", inference.output, ref.fwd.output, kForwardTol));
  EXPECT_TRUE(close("inference h_n", inference.h_n, ref.fwd.h_n, kForwardTol));

  // Training forward and backward, into NaN-filled results.
  RNNCache cache;
  RNNOutput out{poisoned(out_shape, dev), poisoned(st_shape, dev)};
  const float* out_storage[] = {out.output.data(), out.h_n.data()};
  rnn.forward_train_into(input, h0_t, cache, out);
  ASSERT_EQ(out.output.data(), out_storage[0]) << "output not written in place";
  ASSERT_EQ(out.h_n.data(), out_storage[1]) << "h_n not written in place";
  EXPECT_TRUE(close("output", out.output, ref.fwd.output, kForwardTol));
  EXPECT_TRUE(close("h_n", out.h_n, ref.fwd.h_n, kForwardTol));

  RNNInputGrads g{poisoned(in_shape, dev), poisoned(st_shape, dev)};
  const float* grad_storage[] = {g.grad_input.data(), g.grad_h0.data()};
  rnn.backward_into(cache, go_t, ghn_t, g);
  ASSERT_EQ(g.grad_input.data(), grad_storage[0]) << "grad_input not written in place";
  ASSERT_EQ(g.grad_h0.data(), grad_storage[1]) << "grad_h0 not written in place";
  EXPECT_TRUE(close("grad_input", g.grad_input, ref.grads.input, kGradTol));
  EXPECT_TRUE(close("grad_h0", g.grad_h0, ref.grads.h0, kGradTol));
  const std::vector<double> grads = host_values(rnn.flat_grads());
  const detail::ParamLayout layout = detail::make_param_layout(o);
  for (const auto& e : layout.entries) {
    const auto first = static_cast<size_t>(e.offset), last = first + shape_numel(e.shape);
    EXPECT_TRUE(
        close("d" + e.name, std::vector<double>(grads.begin() + first, grads.begin() + last),
              std::vector<double>(ref.flat_grads.begin() + first, ref.flat_grads.begin() + last),
              kGradTol));
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, BackendVsReference,
                         ::testing::Combine(::testing::ValuesIn(shape_grid()),
                                            ::testing::ValuesIn(every_algorithm())),
                         [](const ::testing::TestParamInfo<std::tuple<ShapeCase, Where>>& info) {
                           return shape_case_name(std::get<0>(info.param)) + "_" +
                                  where_name(std::get<1>(info.param));
                         });

// Random shapes beyond the table: sizes drawn from a seeded generator, every configuration flag
// drawn too, so the orchestration's offsets meet shapes nobody picked by hand.
class BackendRandomShapes : public ::testing::TestWithParam<std::tuple<int, Where>> {};

TEST_P(BackendRandomShapes, MatchReference) {
  const auto [seed, where] = GetParam();
  ELMAN_SKIP_IF_NO_DEVICE(where);
  const Device dev = device_of(where);
  std::mt19937_64 gen(static_cast<uint64_t>(seed));
  auto pick = [&](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(gen() % static_cast<uint64_t>(hi - lo + 1));
  };
  const RNNOptions o = make_options(pick(1, 20), pick(1, 24), pick(1, 3),
                                    pick(0, 1) ? Nonlinearity::kTanh : Nonlinearity::kReLU,
                                    pick(0, 1) == 1, pick(0, 1) == 1, pick(0, 3) != 0);
  const int64_t T = pick(1, 12), B = pick(1, 9);
  SCOPED_TRACE(options_str(o) + " T=" + std::to_string(T) + " B=" + std::to_string(B));
  Context ctx = make_context(where);
  RNN rnn = make_rnn(ctx, where, o, static_cast<uint64_t>(seed));
  const Shape in_shape = input_shape(o, T, B), out_shape = output_shape(o, T, B);
  const Shape st_shape = state_shape(o, B);
  const std::vector<double> x = random_floats(shape_numel(in_shape), 1000 + seed);
  const std::vector<double> h0 = random_floats(shape_numel(st_shape), 2000 + seed, 0.5);
  const std::vector<double> go = random_floats(shape_numel(out_shape), 3000 + seed);
  const std::vector<double> ghn = random_floats(shape_numel(st_shape), 4000 + seed);
  const ReferenceRun ref = run_reference(rnn, x, T, B, &h0, &go, &ghn);

  RNNCache cache;
  RNNOutput out{poisoned(out_shape, dev), poisoned(st_shape, dev)};
  rnn.forward_train_into(Tensor::from_vector(in_shape, to_float(x), dev),
                         Tensor::from_vector(st_shape, to_float(h0), dev), cache, out);
  RNNInputGrads g{poisoned(in_shape, dev), poisoned(st_shape, dev)};
  rnn.backward_into(cache, Tensor::from_vector(out_shape, to_float(go), dev),
                    Tensor::from_vector(st_shape, to_float(ghn), dev), g);
  // float32 vs float64, DESIGN.md §4.
  EXPECT_TRUE(close("output", out.output, ref.fwd.output, 1e-5));
  EXPECT_TRUE(close("h_n", out.h_n, ref.fwd.h_n, 1e-5));
  EXPECT_TRUE(close("grad_input", g.grad_input, ref.grads.input, 1e-4));
  EXPECT_TRUE(close("grad_h0", g.grad_h0, ref.grads.h0, 1e-4));
  EXPECT_TRUE(close("parameter gradients", rnn.flat_grads(), ref.flat_grads, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Seeds, BackendRandomShapes,
                         ::testing::Combine(::testing::Range(1, 25),
                                            ::testing::ValuesIn(every_algorithm())),
                         [](const ::testing::TestParamInfo<std::tuple<int, Where>>& info) {
                           return "seed" + std::to_string(std::get<0>(info.param)) + "_" +
                                  where_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace elman::test
