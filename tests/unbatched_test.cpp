// Unbatched input, PyTorch's [T, input_size] with h0 [L*D, H]: the results of a batch of one
// without its batch dimension, for forward, forward_train and backward, on every algorithm;
// results passed in are written in place; wrong shapes are named as the caller wrote them.
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace elman::test {
namespace {

class Unbatched : public ::testing::TestWithParam<Where> {};

Shape unbatched_state(const RNNOptions& o) {
  return {o.num_layers * o.num_directions(), o.hidden_size};
}

// Every configuration's unbatched results are bitwise the batch of one's, reshaped.
TEST_P(Unbatched, EqualsABatchOfOne) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const Device dev = ctx.device();
  const int64_t T = 6;
  for (int64_t layers : {1, 2})
    for (bool bi : {false, true})
      for (bool bf : {false, true})
        for (bool with_h0 : {false, true}) {
          const RNNOptions o = make_options(3, 5, layers, Nonlinearity::kTanh, bi, bf);
          SCOPED_TRACE(options_str(o) + (with_h0 ? " h0" : ""));
          RNN rnn = make_rnn(ctx, GetParam(), o, 11);
          const int64_t DH = o.num_directions() * o.hidden_size;
          const auto x = to_float(random_floats(T * o.input_size, 1));
          const auto h0 = to_float(random_floats(shape_numel(unbatched_state(o)), 2));
          const auto go = to_float(random_floats(T * DH, 3));
          const auto gh = to_float(random_floats(shape_numel(unbatched_state(o)), 4));
          auto on = [&](const Shape& s, const std::vector<float>& v) {
            return Tensor::from_vector(s, v, dev);
          };

          // The batch of one, batched.
          const Tensor h0_b = with_h0 ? on(state_shape(o, 1), h0) : Tensor();
          RNNCache cache_b;
          const RNNOutput out_b = rnn.forward_train(on(input_shape(o, T, 1), x), h0_b, cache_b);
          rnn.zero_grad();
          const RNNInputGrads g_b =
              rnn.backward(cache_b, on(output_shape(o, T, 1), go), on(state_shape(o, 1), gh));
          const std::vector<float> grads_b = rnn.flat_grads().to_vector();

          // The same sequence, unbatched.
          const Tensor h0_u = with_h0 ? on(unbatched_state(o), h0) : Tensor();
          const RNNOutput inf = rnn.forward(on({T, o.input_size}, x), h0_u);
          EXPECT_EQ(inf.output.shape(), (Shape{T, DH}));
          EXPECT_EQ(inf.h_n.shape(), unbatched_state(o));
          EXPECT_TRUE(
              identical("forward output", inf.output.to_vector(), out_b.output.to_vector()));
          EXPECT_TRUE(identical("forward h_n", inf.h_n.to_vector(), out_b.h_n.to_vector()));
          RNNCache cache_u;
          const RNNOutput out_u = rnn.forward_train(on({T, o.input_size}, x), h0_u, cache_u);
          EXPECT_TRUE(
              identical("train output", out_u.output.to_vector(), out_b.output.to_vector()));
          rnn.zero_grad();
          const RNNInputGrads g_u =
              rnn.backward(cache_u, on({T, DH}, go), on(unbatched_state(o), gh));
          EXPECT_EQ(g_u.grad_input.shape(), (Shape{T, o.input_size}));
          EXPECT_EQ(g_u.grad_h0.shape(), unbatched_state(o));
          EXPECT_TRUE(
              identical("grad_input", g_u.grad_input.to_vector(), g_b.grad_input.to_vector()));
          EXPECT_TRUE(identical("grad_h0", g_u.grad_h0.to_vector(), g_b.grad_h0.to_vector()));
          EXPECT_TRUE(identical("parameter gradients", rnn.flat_grads().to_vector(), grads_b));
        }
}

// Against the float64 reference too (so a wrong batch of one could not hide), with relu and
// no bias, the upstream gradients omitted.
TEST_P(Unbatched, MatchesTheReference) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const Device dev = ctx.device();
  const int64_t T = 4;
  const RNNOptions o = make_options(2, 3, 2, Nonlinearity::kReLU, true, false, /*bias=*/false);
  RNN rnn = make_rnn(ctx, GetParam(), o, 5);
  const auto x = random_floats(T * o.input_size, 7);
  const auto go = random_floats(T * 2 * o.hidden_size, 8);
  RNNCache cache;
  const RNNOutput out =
      rnn.forward_train(Tensor::from_vector({T, o.input_size}, to_float(x), dev), Tensor(), cache);
  rnn.zero_grad();
  const RNNInputGrads g =
      rnn.backward(cache, Tensor::from_vector({T, 2 * o.hidden_size}, to_float(go), dev));
  const ReferenceRun ref = run_reference(rnn, x, T, 1, nullptr, &go, nullptr);
  EXPECT_TRUE(close("output", out.output, ref.fwd.output, 1e-5));
  EXPECT_TRUE(close("h_n", out.h_n, ref.fwd.h_n, 1e-5));
  EXPECT_TRUE(close("grad_input", g.grad_input, ref.grads.input, 1e-4));
  EXPECT_TRUE(close("parameter gradients", host_values(rnn.flat_grads()), ref.flat_grads, 1e-4));
}

// Results of the unbatched shape are written in place; h_n may be h0 itself (the streaming and
// truncated-BPTT loop), and its gradients stay those of the h0 read.
TEST_P(Unbatched, ResultsWrittenInPlace) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const Device dev = ctx.device();
  const int64_t T = 5;
  const RNNOptions o = make_options(3, 4, 2, Nonlinearity::kTanh, false, false);
  RNN rnn = make_rnn(ctx, GetParam(), o, 3);
  const Tensor x = Tensor::from_vector({T, 3}, to_float(random_floats(T * 3, 1)), dev);
  const auto h0 = to_float(random_floats(2 * 4, 2));
  const RNNOutput expected = rnn.forward(x, Tensor::from_vector({2, 4}, h0, dev));

  RNNOutput res;
  res.output = poisoned({T, 4}, dev);
  res.h_n = Tensor::from_vector({2, 4}, h0, dev);
  const float* out_ptr = res.output.data();
  const float* hn_ptr = res.h_n.data();
  rnn.forward_into(x, res.h_n, res);
  EXPECT_EQ(res.output.data(), out_ptr);
  EXPECT_EQ(res.h_n.data(), hn_ptr);
  EXPECT_TRUE(identical("output", res.output.to_vector(), expected.output.to_vector()));
  EXPECT_TRUE(identical("h_n over h0", res.h_n.to_vector(), expected.h_n.to_vector()));

  RNNCache cache;
  RNNOutput train;
  train.h_n = Tensor::from_vector({2, 4}, h0, dev);
  rnn.forward_train_into(x, train.h_n, cache, train);
  RNNInputGrads grads;
  grads.grad_input = poisoned({T, 3}, dev);
  grads.grad_h0 = poisoned({2, 4}, dev);
  const float* gi_ptr = grads.grad_input.data();
  rnn.backward_into(cache, Tensor::full({T, 4}, 1.0f, dev), Tensor(), grads);
  EXPECT_EQ(grads.grad_input.data(), gi_ptr);
  RNNCache fresh;
  rnn.forward_train(x, Tensor::from_vector({2, 4}, h0, dev), fresh);
  const RNNInputGrads again = rnn.backward(fresh, Tensor::full({T, 4}, 1.0f, dev));
  EXPECT_TRUE(
      identical("grad_h0 of the h0 read", grads.grad_h0.to_vector(), again.grad_h0.to_vector()));
}

// Shapes are named as the caller wrote them, never with the inserted batch of one.
TEST_P(Unbatched, WrongShapesNamedAsWritten) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const Device dev = ctx.device();
  const RNNOptions o = make_options(4, 3, 2, Nonlinearity::kTanh, false, false);
  RNN rnn = make_rnn(ctx, GetParam(), o, 1);
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({5, 2}, dev)),
                     "RNN::forward: input has shape [5, 2], expected unbatched [T, 4]",
                     "input_size = 4");
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({0, 4}, dev)), "input has shape [0, 4]", "T >= 1");
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({5, 4}, dev), Tensor::zeros({2, 1, 3}, dev)),
                     "h0 (the input is unbatched) has shape [2, 1, 3], expected [2, 3]");
  RNNCache cache;
  rnn.forward_train(Tensor::zeros({5, 4}, dev), Tensor(), cache);
  ELMAN_EXPECT_ERROR(rnn.backward(cache, Tensor::zeros({5, 1, 3}, dev)),
                     "grad_output (the input was unbatched) has shape [5, 1, 3], expected [5, 3]");
  // The cache still works after the refusal.
  EXPECT_EQ(rnn.backward(cache, Tensor::zeros({5, 3}, dev)).grad_input.shape(), (Shape{5, 4}));
  // A batched forward_train afterwards makes the cache batched again.
  rnn.forward_train(Tensor::zeros({5, 1, 4}, dev), Tensor(), cache);
  EXPECT_EQ(rnn.backward(cache, Tensor::zeros({5, 1, 3}, dev)).grad_input.shape(),
            (Shape{5, 1, 4}));
}

INSTANTIATE_TEST_SUITE_P(Backends, Unbatched, ::testing::ValuesIn(every_algorithm()),
                         [](const auto& info) { return where_name(info.param); });

}  // namespace
}  // namespace elman::test
