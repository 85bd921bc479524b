// Misuse a user can make in one line is refused with an elman::Error, never a crash or a wrong
// number: overflowing sizes, huge models, moved-from objects, a context destroyed before its
// model, handles assigned over, and NaN that relu must not hide.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "host/reference.h"
#include "kernels/step_ops.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(Misuse, TensorSizesAreOverflowChecked) {
  ELMAN_EXPECT_ERROR(Tensor::zeros({int64_t{1} << 32, int64_t{1} << 32}), "overflows");
  ELMAN_EXPECT_ERROR(shape_numel({kMax, 2}), "overflows");
  ELMAN_EXPECT_ERROR(Tensor::empty({kMax / 2}), "could not allocate");  // bytes overflow or RAM
  const Tensor t = Tensor::zeros({4});
  ELMAN_EXPECT_ERROR(t.view({2}, kMax - 1), "Tensor::view", "does not fit");
  ELMAN_EXPECT_ERROR(t.view({kMax}, 1), "Tensor::view", "does not fit");
  ELMAN_EXPECT_ERROR(t.view({2}, -1), "Tensor::view");
  EXPECT_EQ(t.view({2}, 2).numel(), 2);
}

TEST(Misuse, UndefinedTensorIsEmptyAndRefusesReads) {
  const Tensor u;
  EXPECT_EQ(u.numel(), 0);
  EXPECT_EQ(u.dim(), 0);
  ELMAN_EXPECT_ERROR(u.to_vector(), "Tensor::to_vector", "undefined");
  EXPECT_FALSE(u.clone().defined());
}

TEST(Misuse, HugeModelsAreErrorsNamingTheSize) {
  Context ctx(Device::cpu());
  RNNOptions o = make_options(1, 4, 1, Nonlinearity::kTanh, false, false);
  o.input_size = 1000000000000000000;  // 1e18
  ELMAN_EXPECT_ERROR(RNN(ctx, o), "input_size", "at most");
  o.input_size = 1;
  o.hidden_size = (int64_t{1} << 31) + 1;
  ELMAN_EXPECT_ERROR(RNN(ctx, o), "hidden_size", "at most");
  o.hidden_size = 4000000000;  // 4e9
  ELMAN_EXPECT_ERROR(RNN(ctx, o), "hidden_size");
  o.hidden_size = 2000000000;  // fits an int, not the machine: H * H floats
  ELMAN_EXPECT_ERROR(RNN(ctx, o), "could not allocate");
  o.hidden_size = 4;
  o.num_layers = 1000000000;
  ELMAN_EXPECT_ERROR(RNN(ctx, o), "num_layers", "at most");
  ELMAN_EXPECT_ERROR(Linear(ctx, 1000000000, 1000000000), "Linear");
  ELMAN_EXPECT_ERROR(Linear(ctx, kMax, 2), "Linear");
}

TEST(Misuse, MovedFromObjectsThrowInsteadOfCrashing) {
  Context ctx(Device::cpu());
  RNN rnn(ctx, make_options(2, 3, 1, Nonlinearity::kTanh, false, false));
  RNN moved = std::move(rnn);
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({2, 1, 2})), "moved from");
  ELMAN_EXPECT_ERROR(rnn.zero_grad(), "moved from");
  RNNCache cache;
  ELMAN_EXPECT_ERROR(rnn.forward_train(Tensor::zeros({2, 1, 2}), Tensor(), cache), "moved from");
  ELMAN_EXPECT_ERROR(rnn.step(Tensor::zeros({1, 2})), "moved from");
  EXPECT_EQ(moved.forward(Tensor::zeros({2, 1, 2})).output.numel(), 6);

  Linear lin(ctx, 3, 2);
  Linear lin2 = std::move(lin);
  ELMAN_EXPECT_ERROR(lin.forward(Tensor::zeros({1, 3})), "moved from");
  ELMAN_EXPECT_ERROR(lin.zero_grad(), "moved from");
  EXPECT_EQ(lin2.forward(Tensor::zeros({1, 3})).numel(), 2);

  Context ctx2(Device::cpu());
  Context ctx3 = std::move(ctx2);
  ELMAN_EXPECT_ERROR(ctx2.device(), "moved from");
  ELMAN_EXPECT_ERROR(ctx2.synchronize(), "moved from");
  ELMAN_EXPECT_ERROR(RNN(ctx2, make_options(2, 3, 1, Nonlinearity::kTanh, false, false)),
                     "moved from");
  EXPECT_TRUE(ctx3.device().is_cpu());
}

TEST(Misuse, ModelsOutliveTheirContext) {
  auto ctx = std::make_unique<Context>(Device::cpu());
  RNN rnn(*ctx, make_options(2, 3, 1, Nonlinearity::kTanh, false, false), 1);
  Linear lin(*ctx, 3, 2, 1);
  Adam adam(*ctx);
  adam.add_parameters(rnn.flat_parameters(), rnn.flat_grads());
  const std::vector<float> before = rnn.forward(Tensor::full({3, 1, 2}, 0.5f)).output.to_vector();
  ctx.reset();  // the user's context is gone; the models hold their own handles (ASan: no UAF)
  EXPECT_TRUE(
      identical("output", rnn.forward(Tensor::full({3, 1, 2}, 0.5f)).output.to_vector(), before));
  EXPECT_EQ(lin.forward(Tensor::zeros({1, 3})).numel(), 2);
  EXPECT_TRUE(rnn.context() == lin.context());  // copies of one context
  adam.step();
}

TEST(Misuse, AccessorsHandOutConstHandlesAndSetParameterIsChecked) {
  static_assert(
      std::is_const_v<std::remove_reference_t<decltype(std::declval<RNN&>().parameter(""))>>,
      "rnn.parameter(n) = t must not compile");
  static_assert(
      std::is_const_v<std::remove_reference_t<decltype(std::declval<RNN&>().flat_parameters())>>);
  static_assert(
      std::is_const_v<std::remove_reference_t<decltype(std::declval<Linear&>().weight())>>);
  Context ctx(Device::cpu());
  RNN rnn(ctx, make_options(2, 3, 1, Nonlinearity::kTanh, false, false), 1);
  ELMAN_EXPECT_ERROR(rnn.set_parameter("bias_ih_l0", Tensor::zeros({4})), "bias_ih_l0", "[4]",
                     "expected [3]");
  ELMAN_EXPECT_ERROR(rnn.set_parameter("bias_xx_l0", Tensor::zeros({3})), "no parameter named");
  ELMAN_EXPECT_ERROR(rnn.set_parameter("bias_ih_l0", Tensor()), "undefined");
  rnn.set_parameter("weight_ih_l0", Tensor::zeros({3, 2}));
  rnn.set_parameter("weight_hh_l0", Tensor::zeros({3, 3}));
  rnn.set_parameter("bias_ih_l0", Tensor::full({3}, 0.25f));
  rnn.set_parameter("bias_hh_l0", Tensor::full({3}, 0.25f));
  // The forward reads the new values: tanh(0.5) everywhere.
  for (float v : rnn.forward(Tensor::full({2, 1, 2}, 3.0f)).output.to_vector())
    EXPECT_FLOAT_EQ(v, std::tanh(0.5f));
  Linear lin(ctx, 2, 1, 1);
  lin.set_parameter("weight", Tensor::full({1, 2}, 1.0f));
  lin.set_parameter("bias", Tensor::full({1}, 0.5f));
  EXPECT_FLOAT_EQ(lin.forward(Tensor::full({1, 2}, 2.0f)).to_vector()[0], 4.5f);
  ELMAN_EXPECT_ERROR(lin.set_parameter("weight", Tensor::zeros({2, 1})), "weight", "[2, 1]");
}

// --- NaN propagation: relu must not map NaN to 0 (torch.relu propagates it). ---

TEST(NanPropagation, ActivationsAndTheirDerivatives) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (detail::Activation a : {detail::Activation::kTanh, detail::Activation::kReLU}) {
    EXPECT_TRUE(std::isnan(detail::activate(a, nan)));
    EXPECT_TRUE(std::isnan(detail::activation_grad_from_output(a, nan)));
  }
  EXPECT_EQ(detail::activate(detail::Activation::kReLU, -2.0f), 0.0f);
  EXPECT_EQ(detail::activate(detail::Activation::kReLU, 2.0f), 2.0f);
  EXPECT_EQ(detail::activation_grad_from_output(detail::Activation::kReLU, 0.0f), 0.0f);
  EXPECT_EQ(detail::activation_grad_from_output(detail::Activation::kReLU, 3.0f), 1.0f);
}

class NanPropagation : public ::testing::TestWithParam<Where> {};

// A NaN in one sequence's h0 reaches that sequence's outputs, h_n and input gradient (and the
// weight gradients), and no other sequence's outputs.
TEST_P(NanPropagation, ReluForwardAndBackward) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(device_of(GetParam()));
  const RNNOptions o = make_options(2, 3, 2, Nonlinearity::kReLU, false, false);
  const int64_t T = 3, B = 2, H = 3;
  RNN rnn(ctx, o, 4);
  std::vector<float> h0(static_cast<size_t>(2 * B * H), 0.1f);
  h0[0] = std::numeric_limits<float>::quiet_NaN();  // layer 0, sequence 0, unit 0
  const Tensor x = Tensor::full({T, B, 2}, 0.5f, ctx.device());
  RNNCache cache;
  const RNNOutput out =
      rnn.forward_train(x, Tensor::from_vector({2, B, H}, h0, ctx.device()), cache);
  const std::vector<float> y = out.output.to_vector(), hn = out.h_n.to_vector();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < H; ++j) {
      EXPECT_TRUE(std::isnan(y[(t * B + 0) * H + j])) << "t " << t << " unit " << j;
      EXPECT_FALSE(std::isnan(y[(t * B + 1) * H + j])) << "t " << t << " unit " << j;
    }
  EXPECT_TRUE(std::isnan(hn[(1 * B + 0) * H]));  // layer 1, sequence 0
  const RNNInputGrads g = rnn.backward(cache, Tensor::full({T, B, H}, 1.0f, ctx.device()));
  const std::vector<float> gx = g.grad_input.to_vector();
  bool any_nan = false;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < 2; ++i) any_nan = any_nan || std::isnan(gx[(t * B + 0) * 2 + i]);
  EXPECT_TRUE(any_nan) << "relu's derivative hid a NaN state";
  bool grad_nan = false;
  for (float v : rnn.grad("weight_hh_l1").to_vector()) grad_nan = grad_nan || std::isnan(v);
  EXPECT_TRUE(grad_nan);
}

INSTANTIATE_TEST_SUITE_P(Backends, NanPropagation, ::testing::Values(Where::kCPU, Where::kCUDA),
                         [](const auto& info) { return std::string(where_name(info.param)); });

TEST(NanPropagation, ReferenceReluPropagatesNaN) {
  const RNNOptions o = make_options(1, 1, 1, Nonlinearity::kReLU, false, false);
  reference::Weights<double> w(1);
  w[0].w_ih = {1.0};
  w[0].w_hh = {1.0};
  w[0].b_ih = {0.0};
  w[0].b_hh = {0.0};
  const std::vector<double> x = {std::numeric_limits<double>::quiet_NaN(), 1.0};
  const auto f = reference::forward<double>(o, w, x, 2, 1, nullptr);
  EXPECT_TRUE(std::isnan(f.output[0]));
  EXPECT_TRUE(std::isnan(f.output[1]));
  EXPECT_TRUE(std::isnan(f.h_n[0]));
}

}  // namespace
}  // namespace elman::test
