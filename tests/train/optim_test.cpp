// Optimizer updates against torch.optim's documented algorithms, computed here in double, plus
// hand-checked first steps; and global gradient-norm clipping against clip_grad_norm_.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::set;

const std::vector<float> kP0 = {1.0f, -2.0f, 0.5f, 0.0f};
// The gradient of each of three steps (set before each step, as backward would).
const std::vector<std::vector<float>> kGrads = {
    {0.1f, -0.2f, 0.3f, -0.05f}, {0.2f, 0.1f, -0.4f, 0.0f}, {-0.3f, 0.25f, 0.1f, 0.5f}};

// Runs three steps of `opt` on kP0 with kGrads; returns the parameters after each step.
std::vector<std::vector<float>> run_steps(Context& ctx, Optimizer& opt) {
  Tensor p = Tensor::from_vector({4}, kP0);
  Tensor g = Tensor::zeros({4});
  opt.add_parameters(p, g);
  std::vector<std::vector<float>> after;
  for (const auto& grad : kGrads) {
    set(g, grad);
    opt.step();
    after.push_back(p.to_vector());
  }
  (void)ctx;
  return after;
}

// torch.optim.SGD's documented algorithm, in double.
std::vector<std::vector<double>> sgd_expected(const SGDOptions& o) {
  std::vector<double> p(kP0.begin(), kP0.end()), b(4, 0.0);
  std::vector<std::vector<double>> after;
  for (size_t t = 0; t < kGrads.size(); ++t) {
    for (size_t i = 0; i < 4; ++i) {
      double g = kGrads[t][i] + double{o.weight_decay} * p[i];
      if (o.momentum != 0.0f) {
        b[i] = t == 0 ? g : double{o.momentum} * b[i] + (1.0 - o.dampening) * g;
        g = o.nesterov ? g + double{o.momentum} * b[i] : b[i];
      }
      p[i] -= double{o.lr} * g;
    }
    after.push_back(p);
  }
  return after;
}

// torch.optim.Adam / AdamW's documented algorithm (bias-corrected moments), in double.
std::vector<std::vector<double>> adam_expected(const AdamOptions& o, bool decoupled) {
  std::vector<double> p(kP0.begin(), kP0.end()), m(4, 0.0), v(4, 0.0);
  std::vector<std::vector<double>> after;
  const double b1 = o.beta1, b2 = o.beta2;
  for (size_t t = 0; t < kGrads.size(); ++t) {
    const double step = static_cast<double>(t + 1);
    for (size_t i = 0; i < 4; ++i) {
      double g = kGrads[t][i];
      if (decoupled)
        p[i] *= 1.0 - double{o.lr} * o.weight_decay;
      else
        g += double{o.weight_decay} * p[i];
      m[i] = b1 * m[i] + (1.0 - b1) * g;
      v[i] = b2 * v[i] + (1.0 - b2) * g * g;
      const double m_hat = m[i] / (1.0 - std::pow(b1, step));
      const double v_hat = v[i] / (1.0 - std::pow(b2, step));
      p[i] -= double{o.lr} * m_hat / (std::sqrt(v_hat) + o.eps);
    }
    after.push_back(p);
  }
  return after;
}

void expect_near_all(const std::vector<std::vector<float>>& got,
                     const std::vector<std::vector<double>>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t t = 0; t < got.size(); ++t)
    for (size_t i = 0; i < got[t].size(); ++i)
      // float32 arithmetic over three updates of O(1) values: a few ulps of 1, far below 1e-6.
      EXPECT_NEAR(got[t][i], want[t][i], 1e-6) << what << ": step " << t + 1 << ", element " << i;
}

TEST(Optim, DefaultsAreTorchs) {
  SGDOptions s;
  EXPECT_FLOAT_EQ(s.lr, 1e-3f);
  EXPECT_EQ(s.momentum, 0.0f);
  EXPECT_EQ(s.dampening, 0.0f);
  EXPECT_EQ(s.weight_decay, 0.0f);
  EXPECT_FALSE(s.nesterov);
  AdamOptions a;
  EXPECT_FLOAT_EQ(a.lr, 1e-3f);
  EXPECT_FLOAT_EQ(a.beta1, 0.9f);
  EXPECT_FLOAT_EQ(a.beta2, 0.999f);
  EXPECT_FLOAT_EQ(a.eps, 1e-8f);
  EXPECT_EQ(a.weight_decay, 0.0f);
  AdamWOptions w;
  EXPECT_FLOAT_EQ(w.weight_decay, 1e-2f);
  EXPECT_FLOAT_EQ(w.lr, 1e-3f);
}

TEST(Optim, SgdHandChecked) {
  // lr 0.1, momentum 0.9, constant gradient 0.1: b1 = 0.1, p1 = 1 - 0.01 = 0.99;
  // b2 = 0.9 * 0.1 + 0.1 = 0.19, p2 = 0.99 - 0.019 = 0.971.
  Context ctx;
  SGDOptions o;
  o.lr = 0.1f;
  o.momentum = 0.9f;
  SGD opt(ctx, o);
  Tensor p = Tensor::from_vector({1}, {1.0f});
  Tensor g = Tensor::from_vector({1}, {0.1f});
  opt.add_parameters(p, g);
  opt.step();
  EXPECT_NEAR(p.to_vector()[0], 0.99f, 1e-7);  // float rounding of 1 - 0.01
  opt.step();
  EXPECT_NEAR(p.to_vector()[0], 0.971f, 1e-7);  // two float roundings of values near 1
}

TEST(Optim, SgdVariantsMatchTorchAlgorithm) {
  struct Case {
    const char* name;
    SGDOptions o;
  };
  std::vector<Case> cases;
  SGDOptions plain;
  plain.lr = 0.1f;
  cases.push_back({"plain", plain});
  SGDOptions mom = plain;
  mom.momentum = 0.9f;
  cases.push_back({"momentum", mom});
  SGDOptions damp = mom;
  damp.dampening = 0.3f;
  cases.push_back({"dampening", damp});
  SGDOptions nest = mom;
  nest.nesterov = true;
  cases.push_back({"nesterov", nest});
  SGDOptions wd = mom;
  wd.weight_decay = 0.05f;
  cases.push_back({"weight_decay", wd});
  for (const Case& c : cases) {
    Context ctx;
    SGD opt(ctx, c.o);
    expect_near_all(run_steps(ctx, opt), sgd_expected(c.o), c.name);
  }
}

TEST(Optim, AdamFirstStepIsLrTimesSign) {
  // Step 1: m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps) = lr * sign(g) (eps 1e-8 is
  // negligible against |g| >= 0.05).
  Context ctx;
  AdamOptions o;
  o.lr = 0.1f;
  Adam opt(ctx, o);
  const auto after = run_steps(ctx, opt);
  const float want[4] = {0.9f, -1.9f, 0.4f, 0.1f};
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(after[0][i], want[i], 1e-6) << i;  // eps effect <= 0.1 * 1e-8 / 0.05, plus ulps
}

TEST(Optim, AdamAndAdamWMatchTorchAlgorithm) {
  AdamOptions a;
  a.lr = 0.05f;
  {
    Context ctx;
    Adam opt(ctx, a);
    expect_near_all(run_steps(ctx, opt), adam_expected(a, false), "adam");
  }
  AdamOptions l2 = a;
  l2.weight_decay = 0.1f;
  {
    Context ctx;
    Adam opt(ctx, l2);
    expect_near_all(run_steps(ctx, opt), adam_expected(l2, false), "adam weight_decay");
  }
  AdamWOptions w;
  w.lr = 0.05f;
  w.weight_decay = 0.1f;
  {
    Context ctx;
    AdamW opt(ctx, w);
    expect_near_all(run_steps(ctx, opt), adam_expected(w, true), "adamw");
  }
  // AdamW and L2 Adam differ: the test above would not notice if both took the same branch.
  EXPECT_GT(std::fabs(adam_expected(l2, false)[2][0] - adam_expected(w, true)[2][0]), 1e-4);
}

TEST(Optim, ZeroGradAndStepCount) {
  Context ctx;
  Adam opt(ctx);
  Tensor p = Tensor::from_vector({2}, {1.0f, 2.0f});
  Tensor g = Tensor::from_vector({2}, {3.0f, 4.0f});
  opt.add_parameters(p, g);
  opt.step();
  opt.step();
  EXPECT_EQ(opt.step_count(), 2);
  opt.zero_grad();
  EXPECT_EQ(g.to_vector(), (std::vector<float>{0.0f, 0.0f}));
}

TEST(Optim, BadArgumentsAreRejected) {
  Context ctx;
  SGDOptions o;
  o.nesterov = true;  // needs momentum
  EXPECT_THROW(SGD(ctx, o), Error);
  AdamOptions a;
  a.beta1 = 1.0f;
  EXPECT_THROW(Adam(ctx, a), Error);
  a = AdamOptions();
  a.lr = -1.0f;
  EXPECT_THROW(Adam(ctx, a), Error);
  Adam opt(ctx);
  EXPECT_THROW(opt.add_parameters(Tensor::zeros({3}), Tensor::zeros({4})), Error);
}

TEST(Clip, ScalesWhenAboveMaxNorm) {
  // Two buffers: [3, 0] and [0, 4, 0]: total norm 5. max_norm 1 -> coef 1 / (5 + 1e-6).
  Context ctx;
  Tensor a = Tensor::from_vector({2}, {3.0f, 0.0f});
  Tensor b = Tensor::from_vector({3}, {0.0f, 4.0f, 0.0f});
  const double norm = clip_grad_norm(ctx, {a, b}, 1.0f);
  EXPECT_NEAR(norm, 5.0, 1e-6);  // exact sums of squares of small integers in float
  const double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(a.to_vector()[0], 3.0 * coef, 1e-6);  // one float multiply: an ulp of 3
  EXPECT_NEAR(b.to_vector()[1], 4.0 * coef, 1e-6);
  EXPECT_EQ(a.to_vector()[1], 0.0f);
}

TEST(Clip, LeavesSmallGradientsAlone) {
  Context ctx;
  Tensor a = Tensor::from_vector({2}, {0.3f, -0.4f});  // norm 0.5 < 1
  const double norm = clip_grad_norm(ctx, {a}, 1.0f);
  EXPECT_NEAR(norm, 0.5, 1e-7);  // 0.09 + 0.16 in float, then sqrt: a few ulps
  EXPECT_EQ(a.to_vector(), (std::vector<float>{0.3f, -0.4f}));  // bit-identical: not scaled
}

TEST(Clip, NormEqualToMaxIsScaledByTheEpsilonOnly) {
  // torch: coef = max / (norm + 1e-6) < 1 even when norm == max, so grads shrink by ~1e-6.
  Context ctx;
  Tensor a = Tensor::from_vector({1}, {2.0f});
  clip_grad_norm(ctx, {a}, 2.0f);
  EXPECT_LT(a.to_vector()[0], 2.0f);
  EXPECT_NEAR(a.to_vector()[0], 2.0f, 1e-5);  // 2 * (1 - 5e-7) = 2 - 1e-6
}

TEST(Clip, RejectsBadMaxNorm) {
  Context ctx;
  EXPECT_THROW(GradNormClipper(ctx, 0.0f), Error);
  EXPECT_THROW(GradNormClipper(ctx, NAN), Error);
}

}  // namespace
}  // namespace elman
