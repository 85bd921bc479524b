// The aliasing rule and the write counter (README, "Aliasing"): a result that would overlap an
// argument is refused, h_n may be h0 itself, and a write to the input or the weights between
// forward_train and backward is refused at backward; every case fails on a model that keeps
// references to what the caller may change.
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace elman::test {
namespace {

class Aliasing : public ::testing::TestWithParam<Where> {
 protected:
  Device dev() const { return device_of(GetParam()); }
};

// The truncated-BPTT loop passes last chunk's h_n as this chunk's h0 and writes the new h_n into
// the same tensor: the gradients must still be those of the h0 the forward read.
TEST_P(Aliasing, HnWrittenOverH0KeepsTheGradientsOfTheH0Read) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const int64_t T = 5, B = 3;
  for (int64_t layers : {1, 2})
    for (bool bi : {false, true}) {
      const RNNOptions o = make_options(3, 4, layers, Nonlinearity::kTanh, bi, false);
      SCOPED_TRACE(options_str(o));
      RNN rnn(ctx, o, 7);
      const auto x = random_floats(shape_numel(input_shape(o, T, B)), 1);
      const auto h0 = random_floats(shape_numel(state_shape(o, B)), 2);
      const auto go = random_floats(shape_numel(output_shape(o, T, B)), 3);
      RNNOutput res;
      res.h_n = Tensor::from_vector(state_shape(o, B), to_float(h0), dev());
      RNNCache cache;
      rnn.forward_train_into(Tensor::from_vector(input_shape(o, T, B), to_float(x), dev()), res.h_n,
                             cache, res);
      rnn.zero_grad();
      const RNNInputGrads g =
          rnn.backward(cache, Tensor::from_vector(output_shape(o, T, B), to_float(go), dev()));
      const ReferenceRun ref = run_reference(rnn, x, T, B, &h0, &go, nullptr);
      EXPECT_TRUE(close("h_n", res.h_n, ref.fwd.h_n, 1e-5));
      EXPECT_TRUE(close("weight gradients", rnn.flat_grads(), ref.flat_grads, 1e-4));
      EXPECT_TRUE(close("grad_h0", g.grad_h0, ref.grads.h0, 1e-4));
    }
}

TEST_P(Aliasing, H0WrittenAfterForwardTrainDoesNotChangeTheGradients) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const RNNOptions o = make_options(2, 3, 2, Nonlinearity::kTanh, true, false);
  const int64_t T = 4, B = 2;
  RNN rnn(ctx, o, 3);
  const auto x = random_floats(shape_numel(input_shape(o, T, B)), 4);
  const auto h0 = random_floats(shape_numel(state_shape(o, B)), 5);
  const auto go = random_floats(shape_numel(output_shape(o, T, B)), 6);
  Tensor h0_t = Tensor::from_vector(state_shape(o, B), to_float(h0), dev());
  RNNCache cache;
  rnn.forward_train(Tensor::from_vector(input_shape(o, T, B), to_float(x), dev()), h0_t, cache);
  h0_t.fill(0.75f);  // the caller reuses its tensor: the cache holds its own copy
  rnn.zero_grad();
  rnn.backward(cache, Tensor::from_vector(output_shape(o, T, B), to_float(go), dev()));
  EXPECT_TRUE(close("weight gradients", rnn.flat_grads(),
                    run_reference(rnn, x, T, B, &h0, &go, nullptr).flat_grads, 1e-4));
}

TEST_P(Aliasing, InputWrittenAfterForwardTrainIsRefusedAtBackward) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const RNNOptions o = make_options(2, 3, 1, Nonlinearity::kTanh, false, false);
  RNN rnn(ctx, o, 3);
  Tensor x = Tensor::full({4, 2, 2}, 0.5f, dev());
  for (int how = 0; how < 3; ++how) {
    RNNCache cache;
    rnn.forward_train(x, Tensor(), cache);
    if (how == 0) x.fill(0.0f);
    if (how == 1) x.copy_from(Tensor::full({4, 2, 2}, 0.25f));
    if (how == 2) {  // a raw write, announced
      Tensor host = x.to(Device::cpu());
      x.copy_from(host);
      x.mark_modified();
    }
    ELMAN_EXPECT_ERROR(rnn.backward(cache, Tensor()), "RNN::backward", "input was written");
  }
  // A result of another call written into the input's storage counts as a write too.
  Linear lin(ctx, 3, 2, 1);
  Tensor y = x.view({8, 2});
  RNNCache cache;
  rnn.forward_train(x, Tensor(), cache);
  lin.forward_into(Tensor::full({8, 3}, 1.0f, dev()), y);
  ELMAN_EXPECT_ERROR(rnn.backward(cache, Tensor()), "input was written");
}

TEST_P(Aliasing, ParametersWrittenAfterForwardTrainAreRefusedAtBackward) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const RNNOptions o = make_options(2, 3, 1, Nonlinearity::kTanh, false, false);
  RNN rnn(ctx, o, 3);
  SGD sgd(ctx, SGDOptions{0.1f});
  sgd.add_parameters(rnn.flat_parameters(), rnn.flat_grads());
  const Tensor x = Tensor::full({4, 2, 2}, 0.5f, dev());
  RNNCache cache;
  rnn.forward_train(x, Tensor(), cache);
  sgd.step();
  ELMAN_EXPECT_ERROR(rnn.backward(cache, Tensor()), "parameters were written");
  rnn.forward_train(x, Tensor(), cache);
  rnn.set_parameter("bias_hh_l0", Tensor::zeros({3}));
  ELMAN_EXPECT_ERROR(rnn.backward(cache, Tensor()), "parameters were written");
  // Gradient steps after backward are the normal loop: accepted.
  rnn.forward_train(x, Tensor(), cache);
  rnn.backward(cache, Tensor::full({4, 2, 3}, 1.0f, dev()));
  sgd.step();
}

TEST_P(Aliasing, TwoBackwardPassesOverOneForwardAgree) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const RNNOptions o = make_options(2, 3, 2, Nonlinearity::kReLU, true, false);
  RNN rnn(ctx, o, 3);
  const Tensor x = Tensor::from_vector({4, 2, 2}, to_float(random_floats(16, 9)), dev());
  const Tensor go = Tensor::from_vector({4, 2, 6}, to_float(random_floats(48, 10)), dev());
  RNNCache cache;
  rnn.forward_train(x, Tensor(), cache);
  rnn.zero_grad();
  rnn.backward(cache, go);
  const std::vector<float> first = rnn.flat_grads().to_vector();
  rnn.zero_grad();
  rnn.backward(cache, go);
  EXPECT_TRUE(identical("gradients of the second backward", rnn.flat_grads().to_vector(), first));
}

TEST_P(Aliasing, ResultsOverlappingArgumentsAreRefusedAndChangeNothing) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const RNNOptions o = make_options(3, 3, 1, Nonlinearity::kTanh, false, false);  // I == H
  RNN rnn(ctx, o, 3);
  const Tensor x = Tensor::full({4, 2, 3}, 0.5f, dev());
  RNNCache cache;
  RNNOutput res;
  res.output = x;  // the output would be written over the input
  ELMAN_EXPECT_ERROR(rnn.forward_train_into(x, Tensor(), cache, res), "output", "input");
  EXPECT_FALSE(cache.valid());
  EXPECT_TRUE(res.output.is_same(x));
  EXPECT_TRUE(identical("input", x.to_vector(), std::vector<float>(24, 0.5f)));
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), res), "output", "input");
  // h_n over a part of h0 (not h0 itself).
  const Tensor big = Tensor::full({2, 2, 3}, 0.0f, dev());
  RNNOutput part;
  part.h_n = big.view({1, 2, 3}, 3);
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, big.view({1, 2, 3}, 0), part), "h_n", "h0");
  // Two results sharing memory.
  const Tensor buf = Tensor::zeros({4 * 2 * 3}, dev());
  RNNOutput shared{buf.view({4, 2, 3}), buf.view({1, 2, 3}, 6)};
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), shared), "h_n", "output");
  // Backward: grad_input over grad_output, and a result over the model's own gradients.
  rnn.forward_train(x, Tensor(), cache);
  const Tensor go = Tensor::full({4, 2, 3}, 1.0f, dev());
  RNNInputGrads g;
  g.grad_input = go;
  ELMAN_EXPECT_ERROR(rnn.backward_into(cache, go, Tensor(), g), "grad_input", "grad_output");
  RNNInputGrads into_grads;
  into_grads.grad_h0 = rnn.flat_grads().view({1, 2, 3});
  ELMAN_EXPECT_ERROR(rnn.backward_into(cache, go, Tensor(), into_grads), "grad_h0",
                     "the model's gradients");
  // Linear: y over x.
  Linear lin(ctx, 4, 4, 2);
  Tensor xy = Tensor::full({3, 4}, 1.0f, dev());
  ELMAN_EXPECT_ERROR(lin.forward_into(xy, xy), "Linear::forward", "y", "x");
  EXPECT_TRUE(identical("Linear's x", xy.to_vector(), std::vector<float>(12, 1.0f)));
  Tensor gx = xy;
  ELMAN_EXPECT_ERROR(lin.backward_into(xy, Tensor::zeros({3, 4}, dev()), &gx), "grad_x", "x");
}

TEST_P(Aliasing, StepStateInPlaceEqualsSeparateResults) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx(dev());
  const RNNOptions o = make_options(2, 2, 2, Nonlinearity::kTanh, false, false);  // I == H
  RNN rnn(ctx, o, 5);
  Tensor state = Tensor::zeros({2, 3, 2}, dev());
  Tensor other = Tensor::zeros({2, 3, 2}, dev());
  RNNOutput in_place{Tensor(), state};
  for (int t = 0; t < 4; ++t) {
    const Tensor x = Tensor::full({3, 2}, 0.1f * static_cast<float>(t + 1), dev());
    rnn.step_into(x, state, in_place);
    const RNNOutput sep = rnn.step(x, other);
    other = sep.h_n;
    EXPECT_TRUE(identical("state", state.to_vector(), other.to_vector()));
  }
  const Tensor x = Tensor::full({3, 2}, 0.5f, dev());
  RNNOutput over_input{x, Tensor()};
  ELMAN_EXPECT_ERROR(rnn.step_into(x, state, over_input), "RNN::step", "output", "x_t");
}

INSTANTIATE_TEST_SUITE_P(Backends, Aliasing, ::testing::Values(Where::kCPU, Where::kCUDA),
                         [](const auto& info) { return std::string(where_name(info.param)); });

TEST(TensorVersion, CountsWritesThroughElmanSharedByViews) {
  Tensor t = Tensor::zeros({6});
  const Tensor v = t.view({3}, 3);
  const uint64_t v0 = t.version();
  t.fill(1.0f);
  EXPECT_GT(t.version(), v0);
  EXPECT_EQ(v.version(), t.version());  // one storage, one counter (like torch's _version)
  const uint64_t v1 = v.version();
  Tensor(v).copy_from(Tensor::zeros({3}));
  EXPECT_GT(t.version(), v1);
  const uint64_t v2 = t.version();
  t.mark_modified();
  EXPECT_EQ(t.version(), v2 + 1);
  EXPECT_EQ(Tensor().version(), 0u);
}

TEST(TensorVersion, SharesMemoryAndIsSame) {
  const Tensor t = Tensor::zeros({10});
  EXPECT_TRUE(t.view({4}, 0).shares_memory_with(t.view({4}, 3)));
  EXPECT_FALSE(t.view({3}, 0).shares_memory_with(t.view({3}, 3)));  // adjacent, not overlapping
  EXPECT_FALSE(t.shares_memory_with(Tensor::zeros({10})));
  EXPECT_FALSE(t.shares_memory_with(Tensor()));
  EXPECT_FALSE(t.view({0}, 5).shares_memory_with(t));  // empty views overlap nothing
  EXPECT_TRUE(t.view({2, 2}, 2).is_same(t.view({2, 2}, 2)));
  EXPECT_FALSE(t.view({2, 2}, 2).is_same(t.view({4}, 2)));
}

}  // namespace
}  // namespace elman::test
