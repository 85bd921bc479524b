// The reference's backward checked against central finite differences in double, for every
// parameter, the input and h0, over the whole configuration grid (DESIGN.md §4).
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace elman::test {
namespace {

struct GradCase {
  RNNOptions o;
  bool has_h0, has_grad_output, has_grad_h_n;
};

std::string case_name(const ::testing::TestParamInfo<GradCase>& info) {
  const GradCase& c = info.param;
  return options_str(c.o) + (c.has_h0 ? "_h0" : "_noh0") + (c.has_grad_output ? "_gout" : "") +
         (c.has_grad_h_n ? "_ghn" : "");
}

void PrintTo(const GradCase& c, std::ostream* os) {
  *os << options_str(c.o) << (c.has_h0 ? " h0" : " no h0") << (c.has_grad_output ? " gout" : "")
      << (c.has_grad_h_n ? " ghn" : "");
}

std::vector<GradCase> grid() {
  std::vector<GradCase> cases;
  for (Nonlinearity nl : {Nonlinearity::kTanh, Nonlinearity::kReLU})
    for (int64_t layers : {1, 2, 3})
      for (bool bidi : {false, true})
        for (bool bf : {false, true})
          for (bool h0 : {true, false})
            for (int upstream : {0, 1, 2})  // both, grad_output only, grad_h_n only
              cases.push_back(
                  {make_options(3, 3, layers, nl, bidi, bf), h0, upstream != 2, upstream != 1});
  // bias=False changes the parameter list; one case per nonlinearity is enough for its math.
  for (Nonlinearity nl : {Nonlinearity::kTanh, Nonlinearity::kReLU})
    cases.push_back({make_options(3, 3, 2, nl, true, false, /*bias=*/false), true, true, true});
  return cases;
}

class ReferenceGradcheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(ReferenceGradcheck, MatchesCentralDifferences) {
  const GradCase& c = GetParam();
  const RNNOptions& o = c.o;
  const int64_t T = 3, B = 2;
  const detail::ParamLayout layout = detail::make_param_layout(o);
  // Weights in U(-0.6, 0.6): large enough that every layer matters, small enough that tanh is
  // not saturated (a saturated unit has a tiny gradient and hides errors).
  std::vector<double> flat = random_vector(layout.total, 11, 0.6);
  std::vector<double> input = random_vector(T * B * o.input_size, 12);
  std::vector<double> h0 = c.has_h0 ? random_vector(shape_numel(state_shape(o, B)), 13, 0.5)
                                    : std::vector<double>(shape_numel(state_shape(o, B)), 0.0);
  const std::vector<double> grad_output = random_vector(shape_numel(output_shape(o, T, B)), 14);
  const std::vector<double> grad_h_n = random_vector(shape_numel(state_shape(o, B)), 15);
  const std::vector<double>* go = c.has_grad_output ? &grad_output : nullptr;
  const std::vector<double>* ghn = c.has_grad_h_n ? &grad_h_n : nullptr;

  auto weights_of = [&](const std::vector<double>& f) { return weights_from_doubles(o, f); };
  // L = sum(grad_output * output) + sum(grad_h_n * h_n), with the absent terms left out; an
  // omitted h0 is the zero vector, perturbed as if it had been given.
  auto loss = [&]() {
    const auto fwd = reference::forward<double>(o, weights_of(flat), input, T, B, &h0);
    double l = 0;
    if (go)
      for (size_t i = 0; i < fwd.output.size(); ++i) l += grad_output[i] * fwd.output[i];
    if (ghn)
      for (size_t i = 0; i < fwd.h_n.size(); ++i) l += grad_h_n[i] * fwd.h_n[i];
    return l;
  };
  // Five-point central differences, f'(x) = (-f(x+2e) + 8f(x+e) - 8f(x-e) + f(x-2e)) / 12e:
  // truncation error ~e^4 f^(5) ~ 1e-16, rounding ~1e-16 |L| / e ~ 1e-11 for e = 1e-4.
  constexpr double kEps = 1e-4;
  auto numeric = [&](std::vector<double>& v) {
    std::vector<double> g(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const double saved = v[i];
      auto at = [&](double step) {
        v[i] = saved + step;
        return loss();
      };
      g[i] = (-at(2 * kEps) + 8 * at(kEps) - 8 * at(-kEps) + at(-2 * kEps)) / (12 * kEps);
      v[i] = saved;
    }
    return g;
  };

  const auto w = weights_of(flat);
  const std::vector<double>* h0_arg = c.has_h0 ? &h0 : nullptr;
  const auto fwd = reference::forward<double>(o, w, input, T, B, h0_arg);
  const auto grads = reference::backward<double>(o, w, input, T, B, h0_arg, fwd, go, ghn);
  const std::vector<double> analytic_flat = reference::flat_from_weights<double>(o, grads.weights);

  // The difference quotients above carry ~1e-11 absolute error. Gradients are O(0.1-1); ones
  // below kFloor (a relu cell that never fires has exactly zero) are judged absolutely, at
  // kTol * kFloor = 5e-10. 1e-8 relative leaves over an order of margin above the noise and
  // still catches any wrong term (those are O(1) relative).
  constexpr double kTol = 1e-8, kFloor = 0.05;
  const std::vector<double> numeric_flat = numeric(flat);
  for (const auto& e : layout.entries) {
    const auto first = static_cast<size_t>(e.offset), last = first + shape_numel(e.shape);
    EXPECT_TRUE(
        close("d" + e.name,
              std::vector<double>(analytic_flat.begin() + first, analytic_flat.begin() + last),
              std::vector<double>(numeric_flat.begin() + first, numeric_flat.begin() + last), kTol,
              kFloor));
  }
  EXPECT_TRUE(close("d input", grads.input, numeric(input), kTol, kFloor));
  EXPECT_TRUE(close("d h0", grads.h0, numeric(h0), kTol, kFloor));
  // A gradient check is only as good as its gradients are non-trivial.
  double norm = 0;
  for (double g : analytic_flat) norm += g * g;
  EXPECT_GT(norm, 1e-6) << "all parameter gradients vanish: the check proves nothing";
}

INSTANTIATE_TEST_SUITE_P(Grid, ReferenceGradcheck, ::testing::ValuesIn(grid()), case_name);

// The reference's forward against a hand computation: one step, one unit, so a reader can
// check the numbers by eye (the gradient check above cannot catch a wrong forward it shares).
TEST(ReferenceForward, OneUnitByHand) {
  RNNOptions o = make_options(1, 1, 1, Nonlinearity::kTanh, false, false);
  reference::Weights<double> w{{{0.5}, {-0.25}, {0.125}, {0.0625}}};
  const std::vector<double> x = {1.0, 2.0};  // T = 2, B = 1
  const std::vector<double> h0 = {0.75};
  const auto f = reference::forward<double>(o, w, x, 2, 1, &h0);
  const double h1 = std::tanh(0.5 * 1.0 + 0.125 - 0.25 * 0.75 + 0.0625);
  const double h2 = std::tanh(0.5 * 2.0 + 0.125 - 0.25 * h1 + 0.0625);
  ASSERT_EQ(f.output.size(), 2u);
  EXPECT_DOUBLE_EQ(f.output[0], h1);
  EXPECT_DOUBLE_EQ(f.output[1], h2);
  EXPECT_DOUBLE_EQ(f.h_n[0], h2);
  // Reverse direction of a bidirectional layer starts at t = T-1 from its own h0 slot.
  o.bidirectional = true;
  w.push_back({{-0.5}, {0.25}, {0.0}, {0.0}});
  const std::vector<double> h0_bi = {0.75, -0.5};
  const auto fb = reference::forward<double>(o, w, x, 2, 1, &h0_bi);
  const double r1 = std::tanh(-0.5 * 2.0 + 0.25 * -0.5);  // t = 1 first
  const double r0 = std::tanh(-0.5 * 1.0 + 0.25 * r1);
  ASSERT_EQ(fb.output.size(), 4u);
  EXPECT_DOUBLE_EQ(fb.output[1], r0);  // [t=0, b=0, reverse]
  EXPECT_DOUBLE_EQ(fb.output[3], r1);  // [t=1, b=0, reverse]
  EXPECT_DOUBLE_EQ(fb.h_n[1], r0);     // reverse h_n is its state at t = 0
  // relu clips at zero.
  o.bidirectional = false;
  o.nonlinearity = Nonlinearity::kReLU;
  w.resize(1);
  const auto fr = reference::forward<double>(o, w, {-1.0}, 1, 1, nullptr);
  EXPECT_EQ(fr.output[0], 0.0);  // relu(-0.5 + 0.1875) = 0
}

}  // namespace
}  // namespace elman::test
