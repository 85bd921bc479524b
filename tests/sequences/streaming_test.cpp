// Streaming inference: RNN::step carried over 1,000 steps equals the full-sequence forward step
// for step, on both backends; its shapes and errors.
#include <gtest/gtest.h>

#include "test_util.h"

namespace elman::test {
namespace {

class Streaming : public ::testing::TestWithParam<Where> {};

TEST_P(Streaming, ThousandStepsEqualFullForward) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  for (bool batch_first : {false, true}) {
    SCOPED_TRACE(batch_first ? "batch_first" : "time-major");
    const RNNOptions o = make_options(3, 7, 2, Nonlinearity::kTanh, false, batch_first);
    const int64_t T = 1000, B = 3, H = 7, L = 2;
    Context ctx = make_context(GetParam());
    RNN rnn = make_rnn(ctx, GetParam(), o, 21);
    const auto x = to_float(random_floats(T * B * 3, 22));
    const auto h0 = to_float(random_floats(L * B * H, 23, 0.5));
    // The full forward, time-major input (transposed below when batch_first).
    std::vector<float> x_user(x.size());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < 3; ++i)
          x_user[(batch_first ? b * T + t : t * B + b) * 3 + i] = x[(t * B + b) * 3 + i];
    const RNNOutput full = rnn.forward(Tensor::from_vector(input_shape(o, T, B), x_user, device),
                                       Tensor::from_vector({L, B, H}, h0, device));
    const auto y_full = full.output.to_vector();

    // Streaming: the state is updated in place (result.h_n is the state tensor itself).
    Tensor state = Tensor::from_vector({L, B, H}, h0, device);
    RNNOutput r{Tensor(), state};
    std::vector<double> y_stream, y_expected;
    for (int64_t t = 0; t < T; ++t) {
      const Tensor x_t = Tensor::from_vector(
          {B, 3}, std::vector<float>(&x[t * B * 3], &x[(t + 1) * B * 3]), device);
      rnn.step_into(x_t, state, r);
      ASSERT_EQ(r.h_n.data(), state.data()) << "the state was not updated in place";
      const auto y = r.output.to_vector();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) {
          y_stream.push_back(y[b * H + j]);
          y_expected.push_back(y_full[(batch_first ? b * T + t : t * B + b) * H + j]);
        }
    }
    // The same GEMMs with other widths (per step vs all steps): float rounding, kept from
    // growing by tanh's contraction over 1,000 steps: 1e-5 (DESIGN.md §4 forward tolerance).
    EXPECT_TRUE(close("streamed outputs", y_stream, y_expected, 1e-5));
    EXPECT_TRUE(close("final state", state, to_double(full.h_n.to_vector()), 1e-5));
  }
}

TEST_P(Streaming, UnbatchedStepAndZeroState) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  const RNNOptions o = make_options(2, 4, 3, Nonlinearity::kReLU, false, false);
  Context ctx = make_context(GetParam());
  RNN rnn = make_rnn(ctx, GetParam(), o, 2);
  const auto x = to_float(random_floats(2, 5));
  const RNNOutput one = rnn.step(Tensor::from_vector({2}, x, device));  // state omitted: zeros
  EXPECT_EQ(one.output.shape(), (Shape{4}));
  EXPECT_EQ(one.h_n.shape(), (Shape{3, 4}));
  const RNNOutput full = rnn.forward(Tensor::from_vector({1, 1, 2}, x, device));
  // The same sums; the fused step adds W_ih x in another order than the forward's input GEMM,
  // so a few float roundings apart (1e-6), not bitwise.
  EXPECT_TRUE(close("output", one.output, to_double(full.output.to_vector()), 1e-6));
  EXPECT_TRUE(close("state", one.h_n, to_double(full.h_n.to_vector()), 1e-6));
  const RNNOutput two = rnn.step(Tensor::from_vector({2}, x, device), one.h_n);
  EXPECT_EQ(two.h_n.shape(), (Shape{3, 4}));
}

INSTANTIATE_TEST_SUITE_P(Backends, Streaming, ::testing::ValuesIn(every_algorithm()),
                         [](const auto& info) { return std::string(where_name(info.param)); });

TEST(StreamingCpu, ErrorsNameTheProblem) {
  Context ctx;
  RNN bi(ctx, make_options(2, 3, 1, Nonlinearity::kTanh, true, false), 1);
  ELMAN_EXPECT_ERROR(bi.step(Tensor::zeros({1, 2})), "RNN::step", "bidirectional");
  RNN rnn(ctx, make_options(2, 3, 2, Nonlinearity::kTanh, false, false), 1);
  ELMAN_EXPECT_ERROR(rnn.step(Tensor::zeros({4, 5})), "RNN::step", "x_t has shape [4, 5]",
                     "[B, 2]");
  ELMAN_EXPECT_ERROR(rnn.step(Tensor::zeros({1, 1, 2})), "x_t has shape [1, 1, 2]");
  ELMAN_EXPECT_ERROR(rnn.step(Tensor::zeros({4, 2}), Tensor::zeros({1, 4, 3})),
                     "state has shape [1, 4, 3]", "expected [2, 4, 3]");
  ELMAN_EXPECT_ERROR(rnn.step(Tensor()), "x_t is undefined");
}

}  // namespace
}  // namespace elman::test
