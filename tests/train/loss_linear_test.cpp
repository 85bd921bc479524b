// The losses and the Linear head: values against double formulas, gradients against central
// finite differences of those formulas in double, numerical stability, PyTorch's init bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::random_floats;

// Central finite differences of f at x, in double.
std::vector<double> numeric_grad(const std::function<double(const std::vector<double>&)>& f,
                                 std::vector<double> x, double h = 1e-5) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num) / std::sqrt(den);
}

double mse_double(const std::vector<double>& p, const std::vector<float>& t) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += (p[i] - t[i]) * (p[i] - t[i]);
  return s / static_cast<double>(p.size());
}

double ce_double(const std::vector<double>& z, const std::vector<float>& t, int64_t classes) {
  const int64_t rows = static_cast<int64_t>(t.size());
  double s = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double m = z[r * classes];
    for (int64_t c = 1; c < classes; ++c) m = std::max(m, z[r * classes + c]);
    double e = 0;
    for (int64_t c = 0; c < classes; ++c) e += std::exp(z[r * classes + c] - m);
    s += std::log(e) + m - z[r * classes + static_cast<int64_t>(t[r])];
  }
  return s / static_cast<double>(rows);
}

TEST(Loss, MseValueAndGradient) {
  Context ctx;
  const auto p = random_floats(12, 1), t = random_floats(12, 2);
  const Tensor pred = Tensor::from_vector({3, 4}, p), target = Tensor::from_vector({3, 4}, t);
  MSELoss loss;
  Tensor grad;
  Tensor sum = Tensor::zeros({1});
  loss.forward_backward(ctx, pred, target, grad, &sum);
  const std::vector<double> pd(p.begin(), p.end());
  // A float sum of 12 squares of O(1) values: ~1e-7 relative.
  EXPECT_NEAR(sum.to_vector()[0], mse_double(pd, t), 1e-6);
  const auto fd = numeric_grad([&](const std::vector<double>& x) { return mse_double(x, t); }, pd);
  // Finite differences of a quadratic are exact up to rounding (~1e-11 / 1e-5); float grad ~1e-7.
  EXPECT_LT(rel_err(grad.to_vector(), fd), 1e-5);
  // A second call accumulates into the sum (weighted), the gradient is overwritten.
  loss.forward_backward(ctx, pred, target, grad, &sum, 0.5f);
  EXPECT_NEAR(sum.to_vector()[0], 1.5 * mse_double(pd, t), 1e-6);  // as above
}

TEST(Loss, CrossEntropyValueAndGradient) {
  Context ctx;
  const int64_t rows = 5, classes = 7;
  const auto z = random_floats(rows * classes, 3, 3.0);
  const std::vector<float> t = {0, 6, 3, 3, 1};
  const Tensor logits = Tensor::from_vector({rows, classes}, z);
  const IndexTensor targets = IndexTensor::from_vector({rows}, {0, 6, 3, 3, 1});
  CrossEntropyLoss loss;
  Tensor grad;
  Tensor sum = Tensor::zeros({1});
  loss.forward_backward(ctx, logits, targets, grad, &sum);
  const std::vector<double> zd(z.begin(), z.end());
  EXPECT_NEAR(sum.to_vector()[0], ce_double(zd, t, classes), 1e-6);  // float log-sum-exp
  const auto fd =
      numeric_grad([&](const std::vector<double>& x) { return ce_double(x, t, classes); }, zd);
  // Smooth function, h = 1e-5: truncation ~h^2 = 1e-10; the float gradient ~1e-7 relative.
  EXPECT_LT(rel_err(grad.to_vector(), fd), 1e-5);
}

TEST(Loss, CrossEntropyIsStableForHugeLogits) {
  Context ctx;
  // exp(1000) overflows float: an unshifted softmax would give inf/inf = NaN.
  const Tensor logits = Tensor::from_vector({2, 3}, {1000.f, 0.f, -1000.f, 500.f, 502.f, 501.f});
  const IndexTensor targets = IndexTensor::from_vector({2}, {0, 0});
  CrossEntropyLoss loss;
  const double v = loss.value(ctx, logits, targets);
  // Row 0: loss ~0; row 1: logsumexp(0, 2, 1) - 0 = 2.4076; mean 1.2038.
  const double row1 = std::log(1.0 + std::exp(2.0) + std::exp(1.0));
  EXPECT_NEAR(v, row1 / 2, 1e-5);  // float arithmetic around 500: ~1e-5 absolute
}

TEST(Loss, CrossEntropyBadTargetGivesNaN) {
  Context ctx;
  const Tensor logits = Tensor::from_vector({1, 3}, {0.f, 1.f, 2.f});
  CrossEntropyLoss loss;
  EXPECT_TRUE(std::isnan(loss.value(ctx, logits, IndexTensor::from_vector({1}, {3}))));
  // A negative id cannot even be made: ids are refused where they are created.
  EXPECT_THROW(IndexTensor::from_vector({1}, {-1}), Error);
  EXPECT_THROW(loss.value(ctx, logits, IndexTensor::from_vector({2}, {0, 1})), Error);
}

TEST(Loss, ShapeMismatchIsAnError) {
  Context ctx;
  MSELoss loss;
  try {
    loss.value(ctx, Tensor::zeros({2, 3}), Tensor::zeros({3, 2}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target has shape [3, 2]"), std::string::npos) << e.what();
  }
}

TEST(Linear, InitMatchesPyTorchBoundsAndSeed) {
  Context ctx;
  Linear a(ctx, 16, 3, 7), b(ctx, 16, 3, 7), c(ctx, 16, 3, 8);
  const auto wa = a.flat_parameters().to_vector();
  EXPECT_EQ(wa, b.flat_parameters().to_vector());  // same seed, same values
  EXPECT_NE(wa, c.flat_parameters().to_vector());
  double max_abs = 0;
  for (float v : wa) max_abs = std::max(max_abs, std::fabs(static_cast<double>(v)));
  EXPECT_LE(max_abs, 0.25);  // U(-1/sqrt(16), 1/sqrt(16))
  EXPECT_GT(max_abs, 0.15);  // and spread over it (51 draws: P(all < 0.15) ~ 0.6^51)
  EXPECT_EQ(a.weight().shape(), (Shape{3, 16}));
  EXPECT_EQ(a.bias().shape(), (Shape{3}));
  EXPECT_EQ(a.parameter_names(), (std::vector<std::string>{"weight", "bias"}));
}

TEST(Linear, ForwardAndGradientsMatchFiniteDifferences) {
  Context ctx;
  const int64_t n = 4, in = 5, out = 3;
  Linear fc(ctx, in, out, 1);
  const auto x = random_floats(n * in, 11);
  const auto c = random_floats(n * out, 12);  // L = sum(c * y): dL/dy = c
  const auto w = fc.flat_parameters().to_vector();
  // L as a function of (W, b, x) in double.
  auto loss_of = [&](const std::vector<double>& wb, const std::vector<double>& xs) {
    double L = 0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t k = 0; k < out; ++k) {
        double y = wb[out * in + k];
        for (int64_t j = 0; j < in; ++j) y += wb[k * in + j] * xs[r * in + j];
        L += c[r * out + k] * y;
      }
    return L;
  };
  const std::vector<double> wd(w.begin(), w.end()), xd(x.begin(), x.end());

  const Tensor xt = Tensor::from_vector({n, in}, x);
  Tensor y;
  fc.forward_into(xt, y);
  const auto yv = y.to_vector();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < out; ++k) {
      double want = wd[out * in + k];
      for (int64_t j = 0; j < in; ++j) want += wd[k * in + j] * xd[r * in + j];
      EXPECT_NEAR(yv[r * out + k], want, 1e-6);  // a float dot of 5 O(1) terms
    }

  Tensor gx;
  fc.backward_into(xt, Tensor::from_vector({n, out}, c), &gx);
  const auto fd_w = numeric_grad([&](const std::vector<double>& p) { return loss_of(p, xd); }, wd);
  const auto fd_x = numeric_grad([&](const std::vector<double>& p) { return loss_of(wd, p); }, xd);
  // L is linear in each argument: finite differences are exact up to rounding.
  EXPECT_LT(rel_err(fc.flat_grads().to_vector(), fd_w), 1e-6);
  EXPECT_LT(rel_err(gx.to_vector(), fd_x), 1e-6);
  // Parameter gradients accumulate like PyTorch's .grad; zero_grad clears them.
  fc.backward_into(xt, Tensor::from_vector({n, out}, c), nullptr);
  std::vector<double> twice(fd_w);
  for (double& v : twice) v *= 2;
  EXPECT_LT(rel_err(fc.flat_grads().to_vector(), twice), 1e-6);
  fc.zero_grad();
  for (float v : fc.flat_grads().to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(Linear, BadShapesAreErrors) {
  Context ctx;
  Linear fc(ctx, 4, 2);
  EXPECT_THROW(fc.forward(Tensor::zeros({3, 5})), Error);
  EXPECT_THROW(Linear(ctx, 0, 2), Error);
  Tensor gx;
  EXPECT_THROW(fc.backward_into(Tensor::zeros({3, 4}), Tensor::zeros({2, 2}), &gx), Error);
}

}  // namespace
}  // namespace elman
