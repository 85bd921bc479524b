// Variable-length batches: the CPU and CUDA backends against the double reference on random
// cases, what padding must not affect, and the errors for bad lengths.
#include <gtest/gtest.h>

#include "test_util.h"

namespace elman::test {
namespace {

struct VarCase {
  int64_t I, H, L;
  Nonlinearity nl;
  bool bi, bf, h0;
  int64_t T;
  std::vector<int64_t> lengths;
};

std::string case_name(const VarCase& c) {
  std::string s = options_str(make_options(c.I, c.H, c.L, c.nl, c.bi, c.bf)) + "_T" +
                  std::to_string(c.T) + "_len";
  for (int64_t n : c.lengths) s += "_" + std::to_string(n);
  return s + (c.h0 ? "_h0" : "");
}

// Unsorted lengths, lengths 1 and T, sizes that are not multiples of 8, B = 1, H = 1.
const std::vector<VarCase> kCases = {
    {3, 5, 2, Nonlinearity::kTanh, true, false, true, 7, {3, 7, 1, 5, 7}},
    {2, 9, 1, Nonlinearity::kTanh, false, true, false, 6, {6, 1, 4}},
    {4, 3, 3, Nonlinearity::kReLU, true, true, true, 5, {2, 5, 5, 1}},
    {1, 1, 2, Nonlinearity::kTanh, true, false, true, 4, {4, 2}},
    {5, 6, 1, Nonlinearity::kReLU, false, false, true, 3, {1}},
    {3, 11, 2, Nonlinearity::kTanh, false, true, true, 9, {9, 8, 1, 1, 6, 3, 9, 2, 5}},
};

class VariableLength : public ::testing::TestWithParam<Where> {};

// float32 backend vs float64 reference: 1e-5 forward, 1e-4 gradients (DESIGN.md §4); results
// poisoned with NaN first so an element a backend forgets to write fails.
TEST_P(VariableLength, MatchesReference) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  uint64_t seed = 100;
  for (const VarCase& c : kCases) {
    SCOPED_TRACE(case_name(c));
    const RNNOptions o = make_options(c.I, c.H, c.L, c.nl, c.bi, c.bf);
    const int64_t B = static_cast<int64_t>(c.lengths.size());
    Context ctx = make_context(GetParam());
    RNN rnn = make_rnn(ctx, GetParam(), o, ++seed);
    const auto x = random_floats(shape_numel(input_shape(o, c.T, B)), ++seed);
    const auto h0 = random_floats(shape_numel(state_shape(o, B)), ++seed, 0.5);
    const auto gy = random_floats(shape_numel(output_shape(o, c.T, B)), ++seed);
    const auto gh = random_floats(shape_numel(state_shape(o, B)), ++seed);
    const Tensor h0_t =
        c.h0 ? Tensor::from_vector(state_shape(o, B), to_float(h0), device) : Tensor();

    RNNCache cache;
    RNNOutput out{poisoned(output_shape(o, c.T, B), device), poisoned(state_shape(o, B), device)};
    rnn.forward_train_into(Tensor::from_vector(input_shape(o, c.T, B), to_float(x), device), h0_t,
                           cache, out, c.lengths);
    RNNInputGrads g{poisoned(input_shape(o, c.T, B), device), poisoned(state_shape(o, B), device)};
    rnn.backward_into(cache, Tensor::from_vector(output_shape(o, c.T, B), to_float(gy), device),
                      Tensor::from_vector(state_shape(o, B), to_float(gh), device), g);

    const auto w = reference::weights_from_flat<double>(o, rnn.flat_parameters().to_vector());
    const auto* h0p = c.h0 ? &h0 : nullptr;
    const auto fwd = reference::forward<double>(o, w, x, c.T, B, h0p, &c.lengths);
    const auto ref = reference::backward<double>(o, w, x, c.T, B, h0p, fwd, &gy, &gh, &c.lengths);
    EXPECT_TRUE(close("output", out.output, fwd.output, 1e-5));
    EXPECT_TRUE(close("h_n", out.h_n, fwd.h_n, 1e-5));
    EXPECT_TRUE(
        close("grad params", rnn.flat_grads(), reference::flat_from_weights(o, ref.weights), 1e-4));
    EXPECT_TRUE(close("grad input", g.grad_input, ref.input, 1e-4));
    EXPECT_TRUE(close("grad h0", g.grad_h0, ref.h0, 1e-4));
  }
}

// Whatever the padding holds (here NaN), outputs, h_n and every gradient equal those of a
// batch padded with zeros, and the outputs and input gradients at padded steps are zero.
TEST_P(VariableLength, PaddingIsNeverRead) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  const RNNOptions o = make_options(3, 4, 2, Nonlinearity::kTanh, true, true);
  const int64_t T = 5;
  const std::vector<int64_t> lengths = {2, 5, 3};
  const int64_t B = 3, DH = 8;
  auto x = to_float(random_floats(B * T * 3, 7));
  auto gy = to_float(random_floats(B * T * DH, 8));
  auto x_nan = x, gy_nan = gy;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = lengths[b]; t < T; ++t) {
      for (int64_t i = 0; i < 3; ++i) x[(b * T + t) * 3 + i] = 0, x_nan[(b * T + t) * 3 + i] = kNaN;
      for (int64_t k = 0; k < DH; ++k)
        gy[(b * T + t) * DH + k] = 0, gy_nan[(b * T + t) * DH + k] = kNaN;
    }
  Context ctx = make_context(GetParam());
  RNN rnn = make_rnn(ctx, GetParam(), o, 3);
  auto run = [&](const std::vector<float>& xs, const std::vector<float>& gys) {
    rnn.zero_grad();
    RNNCache cache;
    RNNOutput out =
        rnn.forward_train(Tensor::from_vector({B, T, 3}, xs, device), Tensor(), cache, lengths);
    RNNInputGrads g = rnn.backward(cache, Tensor::from_vector({B, T, DH}, gys, device));
    return std::vector<std::vector<float>>{out.output.to_vector(), out.h_n.to_vector(),
                                           g.grad_input.to_vector(), g.grad_h0.to_vector(),
                                           rnn.flat_grads().to_vector()};
  };
  const auto clean = run(x, gy);
  const auto dirty = run(x_nan, gy_nan);
  const char* what[] = {"output", "h_n", "grad input", "grad h0", "grad params"};
  for (int k = 0; k < 5; ++k) EXPECT_TRUE(identical(what[k], dirty[k], clean[k]));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = lengths[b]; t < T; ++t) {
      for (int64_t k = 0; k < DH; ++k) EXPECT_EQ(clean[0][(b * T + t) * DH + k], 0.0f);
      for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(clean[2][(b * T + t) * 3 + i], 0.0f);
    }
}

// A sequence's results do not depend on the other sequences of the batch or its place in it:
// run alone (B = 1, its own length, no padding) it gives the same output and h_n.
TEST_P(VariableLength, SequenceAloneEqualsSequenceInBatch) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  const RNNOptions o = make_options(2, 5, 2, Nonlinearity::kTanh, true, false);
  const int64_t T = 6, B = 4, DH = 10;
  const std::vector<int64_t> lengths = {4, 6, 1, 3};
  const auto x = to_float(random_floats(T * B * 2, 11));
  Context ctx = make_context(GetParam());
  RNN rnn = make_rnn(ctx, GetParam(), o, 5);
  const RNNOutput all = rnn.forward(Tensor::from_vector({T, B, 2}, x, device), Tensor(), lengths);
  const auto y_all = all.output.to_vector(), h_all = all.h_n.to_vector();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = lengths[b];
    std::vector<float> xb;
    for (int64_t t = 0; t < n; ++t)
      xb.insert(xb.end(), &x[(t * B + b) * 2], &x[(t * B + b) * 2] + 2);
    const RNNOutput one = rnn.forward(Tensor::from_vector({n, 1, 2}, xb, device));
    const auto y1 = one.output.to_vector(), h1 = one.h_n.to_vector();
    std::vector<double> y_b, y_1, h_b, h_1;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t k = 0; k < DH; ++k)
        y_b.push_back(y_all[(t * B + b) * DH + k]), y_1.push_back(y1[t * DH + k]);
    for (int64_t s = 0; s < 4; ++s)
      for (int64_t j = 0; j < 5; ++j)
        h_b.push_back(h_all[(s * B + b) * 5 + j]), h_1.push_back(h1[s * 5 + j]);
    // Same math, GEMMs of other widths: float rounding only (1e-6 relative).
    EXPECT_TRUE(close("output of sequence " + std::to_string(b), y_b, y_1, 1e-6));
    EXPECT_TRUE(close("h_n of sequence " + std::to_string(b), h_b, h_1, 1e-6));
  }
}

// Batches of different lengths queued back to back with nothing read in between: each upload of
// a batch's permutation and lengths must reach the device before the next one overwrites the
// host buffer it was staged in (on CUDA, pinned staging reused across calls).
TEST_P(VariableLength, BatchesQueuedBackToBack) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  const RNNOptions o = make_options(3, 6, 2, Nonlinearity::kTanh, true, false);
  const int64_t T = 7, B = 5;
  Context ctx = make_context(GetParam());
  RNN rnn = make_rnn(ctx, GetParam(), o, 17);
  constexpr int kBatches = 11;  // more than the CUDA backend's staging slots, twice over
  std::vector<std::vector<int64_t>> lengths;
  std::vector<std::vector<double>> xs;
  std::vector<Tensor> inputs;
  std::vector<RNNOutput> outs;
  for (int k = 0; k < kBatches; ++k) {  // every allocation before the first forward
    std::vector<int64_t> len(B);
    for (int64_t b = 0; b < B; ++b) len[b] = 1 + (k * 3 + b * 5) % T;  // a new order each time
    lengths.push_back(len);
    xs.push_back(random_floats(T * B * 3, 300 + k));
    inputs.push_back(Tensor::from_vector({T, B, 3}, to_float(xs.back()), device));
    outs.push_back({poisoned(output_shape(o, T, B), device), poisoned(state_shape(o, B), device)});
  }
  for (int k = 0; k < kBatches; ++k) rnn.forward_into(inputs[k], Tensor(), outs[k], lengths[k]);
  const auto w = reference::weights_from_flat<double>(o, rnn.flat_parameters().to_vector());
  for (int k = 0; k < kBatches; ++k) {
    SCOPED_TRACE("batch " + std::to_string(k));
    const auto fwd = reference::forward<double>(o, w, xs[k], T, B, nullptr, &lengths[k]);
    EXPECT_TRUE(close("output", outs[k].output, fwd.output, 1e-5));  // float32, DESIGN.md §4
    EXPECT_TRUE(close("h_n", outs[k].h_n, fwd.h_n, 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, VariableLength, ::testing::ValuesIn(every_algorithm()),
                         [](const auto& info) { return std::string(where_name(info.param)); });

// Lengths all equal to T are exactly the call without lengths.
TEST(VariableLengthCpu, FullLengthsEqualNoLengths) {
  const RNNOptions o = make_options(3, 4, 2, Nonlinearity::kReLU, true, true);
  Context ctx;
  RNN rnn(ctx, o, 9);
  const Tensor x = Tensor::from_vector({3, 5, 3}, to_float(random_floats(45, 4)));
  const RNNOutput a = rnn.forward(x, Tensor(), {5, 5, 5});
  const RNNOutput b = rnn.forward(x);
  EXPECT_TRUE(identical("output", a.output.to_vector(), b.output.to_vector()));
  EXPECT_TRUE(identical("h_n", a.h_n.to_vector(), b.h_n.to_vector()));
}

// Bad lengths fail before any work, naming the call and the value, and change nothing.
TEST(VariableLengthCpu, BadLengthsAreClearErrors) {
  const RNNOptions o = make_options(2, 3, 1, Nonlinearity::kTanh, false, false);
  Context ctx;
  RNN rnn(ctx, o, 1);
  const Tensor x = Tensor::from_vector({4, 2, 2}, to_float(random_floats(16, 1)));
  RNNOutput out{Tensor::full({4, 2, 3}, 7.0f), Tensor::full({1, 2, 3}, 7.0f)};
  const std::vector<float> before = out.output.to_vector();
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), out, {0, 4}), "RNN::forward", "lengths[0] = 0",
                     "[1, 4]");
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), out, {4, 5}), "lengths[1] = 5", "[1, 4]");
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), out, {-1, 2}), "lengths[0] = -1");
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), out, {4}), "lengths has 1 entries", "batch = 2");
  ELMAN_EXPECT_ERROR(rnn.forward_into(x, Tensor(), out, {1, 2, 3}), "lengths has 3 entries");
  RNNCache cache;
  ELMAN_EXPECT_ERROR(rnn.forward_train(x, Tensor(), cache, {3, 0}), "RNN::forward_train",
                     "lengths[1] = 0");
  EXPECT_FALSE(cache.valid());
  EXPECT_TRUE(identical("untouched output", out.output.to_vector(), before));
}

}  // namespace
}  // namespace elman::test
