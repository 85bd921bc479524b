// Dropout between layers: Philox4x32-10 against its published answers, the fraction dropped,
// the masks the same on every device, and forward_train/backward equal to the composition of
// single layers with the mask applied in between (every algorithm); forward() never drops.
#include <gtest/gtest.h>

#include "kernels/dropout_ops.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

// Random123's known-answer vectors for philox4x32_10 (kat_vectors).
TEST(Philox, KnownAnswers) {
  struct Case {
    detail::Philox4 ctr;
    uint32_t k0, k1;
    detail::Philox4 expected;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       0xffffffffu,
       0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       0xa4093822u,
       0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Case& c : cases) {
    const detail::Philox4 r = detail::philox4x32_10(c.ctr, c.k0, c.k1);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(r.v[j], c.expected.v[j]) << "word " << j;
  }
}

TEST(Dropout, DropsTheExpectedFractionIndependentlyPerLayerAndCall) {
  const int64_t n = 1 << 20;
  for (float p : {0.1f, 0.5f, 0.8f}) {
    detail::DropoutStream s{42, 7, 0, p};
    int64_t dropped = 0, differs = 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool keep = s.keeps(i);
      dropped += !keep;
      detail::DropoutStream other = s;
      other.layer = 1;  // another layer: another mask
      differs += keep != other.keeps(i);
    }
    // Binomial: 5 standard deviations.
    const double sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(static_cast<double>(dropped) / n, p, 5 * sd) << "p " << p;
    EXPECT_NEAR(static_cast<double>(differs) / n, 2 * p * (1 - p), 10 * sd) << "p " << p;
  }
}

class DropoutModel : public ::testing::TestWithParam<Where> {};

// The mask of layer l for a (seed, call), applied to [T, B, DH] in internal order, which for
// full-length sequences without batch_first is the user's [T, B, DH].
std::vector<float> apply_mask(std::vector<float> v, uint64_t seed, uint64_t call, uint32_t layer,
                              float p) {
  const detail::DropoutStream s{seed, call, layer, p};
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = s.keeps(static_cast<int64_t>(i)) ? v[i] / (1 - p) : 0;
  return v;
}

// A one-layer model holding layer `l` of `big`'s parameters.
RNN layer_of(Context& ctx, const Where& w, const RNN& big, int64_t l) {
  RNNOptions o = big.options();
  o.input_size = o.layer_input_size(l);
  o.num_layers = 1;
  o.dropout = 0;
  RNN one = make_rnn(ctx, w, o, 0);
  for (const std::string& name : one.parameter_names()) {
    std::string big_name = name;
    big_name.replace(big_name.find("_l0"), 3, "_l" + std::to_string(l));
    one.set_parameter(name, big.parameter(big_name));
  }
  return one;
}

TEST_P(DropoutModel, EqualsTheLayersWithTheMaskBetween) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const Device dev = ctx.device();
  const int64_t T = 5, B = 3;
  for (bool bi : {false, true}) {
    RNNOptions o = make_options(4, 6, 2, Nonlinearity::kTanh, bi, false);
    o.dropout = 0.4f;
    SCOPED_TRACE(options_str(o));
    RNN rnn = make_rnn(ctx, GetParam(), o, 9);
    rnn.set_dropout_state(123, 5);
    const int64_t DH = o.num_directions() * o.hidden_size;
    const auto x = to_float(random_floats(T * B * 4, 1));
    const auto go = to_float(random_floats(T * B * DH, 2));
    RNNCache cache;
    const RNNOutput out =
        rnn.forward_train(Tensor::from_vector({T, B, 4}, x, dev), Tensor(), cache);
    EXPECT_EQ(rnn.dropout_calls(), 6u);  // one mask per call
    rnn.zero_grad();
    const RNNInputGrads g = rnn.backward(cache, Tensor::from_vector({T, B, DH}, go, dev));

    // The same computation layer by layer, the mask applied by hand.
    RNN l0 = layer_of(ctx, GetParam(), rnn, 0), l1 = layer_of(ctx, GetParam(), rnn, 1);
    RNNCache c0, c1;
    const RNNOutput o0 = l0.forward_train(Tensor::from_vector({T, B, 4}, x, dev), Tensor(), c0);
    const auto x1 = apply_mask(o0.output.to_vector(), 123, 5, 0, 0.4f);
    const RNNOutput o1 = l1.forward_train(Tensor::from_vector({T, B, DH}, x1, dev), Tensor(), c1);
    EXPECT_TRUE(close("output", host_values(out.output), host_values(o1.output), 1e-6));
    l1.zero_grad();
    l0.zero_grad();
    const RNNInputGrads g1 = l1.backward(c1, Tensor::from_vector({T, B, DH}, go, dev));
    const auto g_out0 = apply_mask(g1.grad_input.to_vector(), 123, 5, 0, 0.4f);
    const RNNInputGrads g0 = l0.backward(c0, Tensor::from_vector({T, B, DH}, g_out0, dev));
    EXPECT_TRUE(close("grad_input", host_values(g.grad_input), host_values(g0.grad_input), 1e-5));
    for (const std::string& name : l0.parameter_names()) {
      std::string in1 = name;
      in1.replace(in1.find("_l0"), 3, "_l1");
      EXPECT_TRUE(close("d" + name, host_values(rnn.grad(name)), host_values(l0.grad(name)), 1e-5));
      EXPECT_TRUE(close("d" + in1, host_values(rnn.grad(in1)), host_values(l1.grad(name)), 1e-5));
    }

    // forward() never drops: the layers without a mask.
    const RNNOutput inf = rnn.forward(Tensor::from_vector({T, B, 4}, x, dev));
    const RNNOutput p0 = l0.forward(Tensor::from_vector({T, B, 4}, x, dev));
    const RNNOutput p1 = l1.forward(p0.output);
    EXPECT_TRUE(close("inference output", host_values(inf.output), host_values(p1.output), 1e-6));
    EXPECT_EQ(rnn.dropout_calls(), 6u);
  }
}

// p = 0 is no dropout at all, bit for bit, and draws nothing.
TEST_P(DropoutModel, ZeroIsBitwiseNoDropout) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const Device dev = ctx.device();
  RNNOptions o = make_options(3, 5, 3, Nonlinearity::kReLU, true, true);
  RNN plain = make_rnn(ctx, GetParam(), o, 4);
  o.dropout = 0.0f;
  RNN zero = make_rnn(ctx, GetParam(), o, 4);
  const Tensor x = Tensor::from_vector({2, 6, 3}, to_float(random_floats(36, 3)), dev);
  RNNCache a, b;
  EXPECT_TRUE(identical("output", plain.forward_train(x, Tensor(), a).output.to_vector(),
                        zero.forward_train(x, Tensor(), b).output.to_vector()));
  EXPECT_TRUE(identical(
      "grad_input", plain.backward(a, Tensor::full({2, 6, 10}, 1.0f, dev)).grad_input.to_vector(),
      zero.backward(b, Tensor::full({2, 6, 10}, 1.0f, dev)).grad_input.to_vector()));
  EXPECT_EQ(zero.dropout_calls(), 0u);
}

// The mask is the CPU's on every device, bit for bit.
TEST_P(DropoutModel, MaskIsTheCpusOnEveryDevice) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  Context ctx = make_context(GetParam());
  const int64_t n = 10007;
  const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
  Tensor in = Tensor::from_vector({n}, ones, ctx.device()), out = Tensor::empty({n}, ctx.device());
  const detail::DropoutStream s{0xfeedfacecafebeefull, 0x100000003ull, 2, 0.25f};
  detail::run(detail::backend_of(ctx),
              detail::ApplyDropout{in.data(), out.data(), n, s, 1.0f / 0.75f});
  EXPECT_TRUE(identical("mask", out.to_vector(), apply_mask(ones, s.seed, s.call, 2, 0.25f)));
}

TEST(DropoutOptions, OutOfRangeIsRefused) {
  Context ctx(Device::cpu());
  for (float p : {-0.1f, 1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN()}) {
    RNNOptions o = make_options(2, 3, 2, Nonlinearity::kTanh, false, false);
    o.dropout = p;
    ELMAN_EXPECT_ERROR(RNN(ctx, o), "dropout must be in [0, 1)");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DropoutModel, ::testing::ValuesIn(every_algorithm()),
                         [](const auto& info) { return where_name(info.param); });

}  // namespace
}  // namespace elman::test
