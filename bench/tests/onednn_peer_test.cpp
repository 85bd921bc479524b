// oneDNN's RNN primitive, driven by the bench's plugin (OnednnRNN, OnednnStream), against elman's
// CPU results on small shapes: the weight conversion, layer groups and argument lists, for real.
#include "bench/onednn_peer.h"

#include <gtest/gtest.h>

#include <random>

#include "bench/flops.h"
#include "elman/elman.h"
#include "tests/test_util.h"

namespace elman::bench {
namespace {

// float32 on both sides over a few steps: DESIGN.md §4's float32 bounds (1e-5 forward, 1e-4
// gradients), which hold here with a margin (the sides differ only in summation order).
constexpr double kForward = 1e-5, kGradient = 1e-4;

// U(-1, 1) from a seeded generator.
std::vector<float> random_values(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = float(double(gen() >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  return v;
}

struct Case {
  int64_t batch, hidden, seq_len, layers;
  bool bidirectional;
  int64_t input;
  Nonlinearity nonlinearity;
  bool bias;
};

RNNOptions options_of(const Case& c) {
  return test::make_options(c.input, c.hidden, c.layers, c.nonlinearity, c.bidirectional, false,
                            c.bias);
}

// The plugin, built with this binary and loaded from beside it. Where the machine lacks libdnnl
// itself (a build carried to a GPU machine) the tests skip, saying so; anything else fails.
#define ELMAN_ONEDNN_PEER_OR_SKIP(peer)                                         \
  std::string why_;                                                             \
  OnednnPeer* peer = onednn_peer(&why_);                                        \
  if (!peer && why_.find("libdnnl") != std::string::npos) GTEST_SKIP() << why_; \
  ASSERT_NE(peer, nullptr) << why_

class OnednnAgainstElman : public ::testing::TestWithParam<Case> {};

TEST_P(OnednnAgainstElman, OutputsStatesAndGradients) {
  ELMAN_ONEDNN_PEER_OR_SKIP(onednn);
  const Case c = GetParam();
  const RNNOptions o = options_of(c);
  const int64_t T = c.seq_len, B = c.batch, H = c.hidden, D = o.num_directions();
  const int64_t LD = c.layers * D;
  Context ctx(Device::cpu());
  RNN rnn(ctx, o, 7);
  std::vector<CpuInputSet> sets;
  for (uint64_t k = 0; k < 2; ++k)
    sets.push_back({random_values(T * B * c.input, 10 * k + 1),
                    random_values(LD * B * H, 10 * k + 2), random_values(T * B * D * H, 10 * k + 3),
                    random_values(LD * B * H, 10 * k + 4)});
  const CpuInputSet& in = sets[1];  // the second set: the argument lists of each set differ
  const Tensor x = Tensor::from_vector({T, B, c.input}, in.x);
  const Tensor h0 = Tensor::from_vector({LD, B, H}, in.h0);
  const RNNOutput inf = rnn.forward(x, h0);
  RNNCache cache;
  const RNNOutput out = rnn.forward_train(x, h0, cache);
  rnn.zero_grad();
  const RNNInputGrads g = rnn.backward(cache, Tensor::from_vector({T, B, D * H}, in.dy),
                                       Tensor::from_vector({LD, B, H}, in.dhy));

  const std::unique_ptr<OnednnRNN> model =
      onednn->make_rnn(o, T, B, rnn.flat_parameters().to_vector(), sets);
  OnednnRNN& peer = *model;
  const PeerResults r = peer.results(1);
  EXPECT_LE(relative_error(r.y_inference, inf.output.to_vector()), kForward);
  EXPECT_LE(relative_error(r.y, out.output.to_vector()), kForward);
  EXPECT_LE(relative_error(r.h_n, out.h_n.to_vector()), kForward);
  EXPECT_LE(relative_error(r.dx, g.grad_input.to_vector()), kGradient);
  EXPECT_LE(relative_error(r.dh0, g.grad_h0.to_vector()), kGradient);
  EXPECT_LE(relative_error(r.dw, rnn.flat_grads().to_vector()), kGradient);

  // The timed calls: a second backward adds to the weight gradients, as elman's does.
  peer.train_forward(1);
  peer.backward(1);
  std::vector<float> twice = rnn.flat_grads().to_vector();
  for (float& v : twice) v *= 2;
  EXPECT_LE(relative_error(peer.weight_grads(), twice), kGradient);
  EXPECT_FALSE(peer.implementation().empty());
}

INSTANTIATE_TEST_SUITE_P(
    SmallShapes, OnednnAgainstElman,
    ::testing::Values(Case{3, 5, 4, 1, false, 4, Nonlinearity::kTanh, true},
                      Case{2, 4, 3, 2, true, 3, Nonlinearity::kTanh, true},    // per-layer groups
                      Case{2, 5, 3, 3, false, 6, Nonlinearity::kReLU, true},   // layer 0 apart
                      Case{4, 6, 5, 2, false, 6, Nonlinearity::kTanh, false},  // one 2-layer group
                      Case{1, 8, 1, 1, true, 8, Nonlinearity::kReLU, false}));

TEST(OnednnStream, StepsEqualElmansFullForward) {
  ELMAN_ONEDNN_PEER_OR_SKIP(onednn);
  for (const Case& c : {Case{3, 5, 6, 1, false, 4, Nonlinearity::kTanh, true},
                        Case{2, 4, 5, 3, false, 7, Nonlinearity::kTanh, true}}) {
    const RNNOptions o = options_of(c);
    const int64_t N = c.seq_len, B = c.batch, H = c.hidden, L = c.layers;
    Context ctx(Device::cpu());
    RNN rnn(ctx, o, 3);
    const std::vector<float> x = random_values(N * B * c.input, 5),
                             h0 = random_values(L * B * H, 6);
    const RNNOutput full =
        rnn.forward(Tensor::from_vector({N, B, c.input}, x), Tensor::from_vector({L, B, H}, h0));
    const std::unique_ptr<OnednnStream> model =
        onednn->make_stream(o, B, rnn.flat_parameters().to_vector());
    OnednnStream& stream = *model;
    for (int pass = 0; pass < 2; ++pass) {  // reset() starts the stream over
      stream.reset(h0);
      std::vector<float> ys;
      for (int64_t t = 0; t < N; ++t) {
        stream.step(x.data() + t * B * c.input);
        const std::vector<float> y = stream.output();
        ys.insert(ys.end(), y.begin(), y.end());
      }
      EXPECT_LE(relative_error(ys, full.output.to_vector()), kForward) << "L" << L;
      EXPECT_LE(relative_error(stream.state(), full.h_n.to_vector()), kForward) << "L" << L;
    }
  }
}

TEST(OnednnPeer, RefusesWhatItCannotRunNamingWhy) {
  ELMAN_ONEDNN_PEER_OR_SKIP(onednn);
  RNNOptions o;
  o.input_size = o.hidden_size = 4;
  o.batch_first = true;
  Context ctx(Device::cpu());
  RNN rnn(ctx, o, 1);
  try {
    onednn->make_rnn(o, 2, 2, rnn.flat_parameters().to_vector(), {});
    FAIL() << "batch_first was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch_first"), std::string::npos) << e.what();
  }
  o.batch_first = false;
  o.bidirectional = true;
  RNN bi(ctx, o, 1);
  EXPECT_THROW(onednn->make_stream(o, 2, bi.flat_parameters().to_vector()), Error);
  EXPECT_EQ(onednn->description().rfind("2.", 0), 0u) << onednn->description();  // oneDNN 2.x
}

}  // namespace
}  // namespace elman::bench
