// The cases DESIGN.md §4 lists as "peers got wrong", on every backend: batch invariance, zero vs
// omitted h0, repeated backward passes, gradient accumulation, batch size 0, T = 1, T > 65,535.
#include <gtest/gtest.h>

#include <memory>

#include "tests/test_util.h"

namespace elman::test {
namespace {

class Invariants : public ::testing::TestWithParam<Where> {
 protected:
  Device dev() const { return device_of(GetParam()); }
  // Host values as a float tensor on the case's device.
  Tensor on_device(const Shape& shape, const std::vector<double>& values) const {
    return Tensor::from_vector(shape, to_float(values), dev());
  }
  Tensor random_tensor(const Shape& shape, uint64_t seed) const {
    return on_device(shape, random_floats(shape_numel(shape), seed));
  }
  // A model on the case's device, with its algorithm; the fixture keeps its context alive.
  RNN model(const RNNOptions& o, uint64_t seed) {
    contexts_.push_back(std::make_unique<Context>(make_context(GetParam())));
    return make_rnn(*contexts_.back(), GetParam(), o, seed);
  }

 private:
  std::vector<std::unique_ptr<Context>> contexts_;
};

// A forward_train's results and the following backward's gradients equal the float64
// reference's on the same inputs (x, h0, grad_output, grad_h_n; a null one was omitted), within
// DESIGN.md §4's float32 tolerances: 1e-5 forward, 1e-4 for gradients (long sequences too).
// Returns the reference's run, for further checks.
ReferenceRun expect_matches_reference(const RNN& rnn, const std::vector<double>& x, int64_t T,
                                      int64_t B, const std::vector<double>* h0,
                                      const std::vector<double>* grad_output,
                                      const std::vector<double>* grad_h_n, const RNNOutput& out,
                                      const RNNInputGrads& g) {
  const ReferenceRun ref = run_reference(rnn, x, T, B, h0, grad_output, grad_h_n);
  EXPECT_TRUE(close("output", out.output, ref.fwd.output, 1e-5));
  EXPECT_TRUE(close("h_n", out.h_n, ref.fwd.h_n, 1e-5));
  EXPECT_TRUE(close("grad_input", g.grad_input, ref.grads.input, 1e-4));
  EXPECT_TRUE(close("grad_h0", g.grad_h0, ref.grads.h0, 1e-4));
  EXPECT_TRUE(close("parameter gradients", rnn.flat_grads(), ref.flat_grads, 1e-4));
  return ref;
}

// Rows [first, first + count) of dimension `dim` (0 or 1) of a 3-D row-major tensor's values.
std::vector<double> slice_dim(const std::vector<double>& v, const Shape& s, int dim, int64_t first,
                              int64_t count) {
  std::vector<double> out;
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t j = 0; j < s[1]; ++j) {
      const int64_t k = dim == 0 ? i : j;
      if (k < first || k >= first + count) continue;
      for (int64_t f = 0; f < s[2]; ++f) out.push_back(v[(i * s[1] + j) * s[2] + f]);
    }
  return out;
}

// A sequence's results do not depend on the batch it is in: alone (B = 1), or at another
// position of a permuted batch, it gets the same output, h_n and gradients.
TEST_P(Invariants, BatchInvariance) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  for (bool batch_first : {false, true}) {
    const RNNOptions o = make_options(5, 9, 2, Nonlinearity::kTanh, true, batch_first);
    RNN rnn = model(o, 3);
    const int64_t T = 6, B = 5;
    const int batch_dim = batch_first ? 0 : 1;
    const Shape in_shape = input_shape(o, T, B), out_shape = output_shape(o, T, B);
    const Shape st_shape = state_shape(o, B);
    const std::vector<double> x = random_floats(shape_numel(in_shape), 1);
    const std::vector<double> h0 = random_floats(shape_numel(st_shape), 2, 0.5);
    const std::vector<double> go = random_floats(shape_numel(out_shape), 3);
    const std::vector<double> ghn = random_floats(shape_numel(st_shape), 4);
    auto run = [&](const std::vector<double>& xs, const std::vector<double>& h0s,
                   const std::vector<double>& gos, const std::vector<double>& ghns, int64_t b) {
      RNNCache cache;
      RNNOutput out = rnn.forward_train(on_device(input_shape(o, T, b), xs),
                                        on_device(state_shape(o, b), h0s), cache);
      rnn.zero_grad();
      RNNInputGrads g = rnn.backward(cache, on_device(output_shape(o, T, b), gos),
                                     on_device(state_shape(o, b), ghns));
      return std::make_tuple(host_values(out.output), host_values(out.h_n),
                             host_values(g.grad_input), host_values(g.grad_h0),
                             host_values(rnn.flat_grads()));
    };
    const auto [y, hn, gx, gh0, gw] = run(x, h0, go, ghn, B);
    // Different batch sizes may take different GEMM code paths (blocking), so the results may
    // differ by float rounding, never more: 1e-6 is ~10 float ulps relative, while a sequence
    // that mixes with its neighbours is off by O(1).
    constexpr double kTol = 1e-6;
    std::vector<double> gw_sum(gw.size(), 0.0);
    for (int64_t b = 0; b < B; ++b) {
      SCOPED_TRACE("sequence " + std::to_string(b) + (batch_first ? " batch_first" : ""));
      const auto [y1, hn1, gx1, gh01, gw1] =
          run(slice_dim(x, in_shape, batch_dim, b, 1), slice_dim(h0, st_shape, 1, b, 1),
              slice_dim(go, out_shape, batch_dim, b, 1), slice_dim(ghn, st_shape, 1, b, 1), 1);
      EXPECT_TRUE(close("output", y1, slice_dim(y, out_shape, batch_dim, b, 1), kTol));
      EXPECT_TRUE(close("h_n", hn1, slice_dim(hn, st_shape, 1, b, 1), kTol));
      EXPECT_TRUE(close("grad_input", gx1, slice_dim(gx, in_shape, batch_dim, b, 1), kTol));
      EXPECT_TRUE(close("grad_h0", gh01, slice_dim(gh0, st_shape, 1, b, 1), kTol));
      for (size_t i = 0; i < gw.size(); ++i) gw_sum[i] += gw1[i];
    }
    // Parameter gradients of the batch are the sums over its sequences (summation order differs).
    EXPECT_TRUE(close("parameter gradients", gw, gw_sum, 1e-5));

    // The batch reversed: sequence b now sits at position B-1-b.
    auto reverse_batch = [&](const std::vector<double>& v, const Shape& s, int dim) {
      std::vector<double> r;
      for (int64_t b = B - 1; b >= 0; --b) {
        const auto part = slice_dim(v, s, dim, b, 1);
        r.insert(r.end(), part.begin(), part.end());
      }
      // slice_dim keeps dim-0-major order; for dim 1 rebuild [s0, B, s2] from per-b slices.
      if (dim == 0) return r;
      std::vector<double> out(v.size());
      const int64_t per = s[0] * s[2];
      for (int64_t p = 0; p < B; ++p)
        for (int64_t i = 0; i < s[0]; ++i)
          for (int64_t f = 0; f < s[2]; ++f)
            out[(i * B + p) * s[2] + f] = r[p * per + i * s[2] + f];
      return out;
    };
    const auto [yr, hnr, gxr, gh0r, gwr] =
        run(reverse_batch(x, in_shape, batch_dim), reverse_batch(h0, st_shape, 1),
            reverse_batch(go, out_shape, batch_dim), reverse_batch(ghn, st_shape, 1), B);
    EXPECT_TRUE(close("permuted output", yr, reverse_batch(y, out_shape, batch_dim), kTol));
    EXPECT_TRUE(close("permuted h_n", hnr, reverse_batch(hn, st_shape, 1), kTol));
    EXPECT_TRUE(close("permuted grad_input", gxr, reverse_batch(gx, in_shape, batch_dim), kTol));
    EXPECT_TRUE(close("permuted grad_h0", gh0r, reverse_batch(gh0, st_shape, 1), kTol));
    EXPECT_TRUE(close("permuted parameter gradients", gwr, gw, 1e-5));
  }
}

// An explicit zero h0 gives exactly what an omitted one gives: outputs and every gradient.
TEST_P(Invariants, ZeroH0EqualsOmittedH0) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(4, 6, 2, Nonlinearity::kReLU, true, true);
  RNN rnn = model(o, 5);
  const int64_t T = 5, B = 3;
  const Tensor x = random_tensor(input_shape(o, T, B), 1);
  const Tensor go = random_tensor(output_shape(o, T, B), 2);
  const Tensor ghn = random_tensor(state_shape(o, B), 3);
  auto run = [&](const Tensor& h0) {
    RNNCache cache;
    const RNNOutput inference = rnn.forward(x, h0);
    const RNNOutput out = rnn.forward_train(x, h0, cache);
    rnn.zero_grad();
    const RNNInputGrads g = rnn.backward(cache, go, ghn);
    return std::vector<std::vector<float>>{inference.output.to_vector(), inference.h_n.to_vector(),
                                           out.output.to_vector(),       out.h_n.to_vector(),
                                           g.grad_input.to_vector(),     g.grad_h0.to_vector(),
                                           rnn.flat_grads().to_vector()};
  };
  const auto omitted = run(Tensor());
  const auto zero = run(Tensor::zeros(state_shape(o, B), dev()));
  const char* names[] = {"inference output", "inference h_n",      "output", "h_n", "grad_input",
                         "grad_h0",          "parameter gradients"};
  // Adding exact zeros changes no float: the results must be identical, not merely close.
  for (size_t i = 0; i < omitted.size(); ++i) EXPECT_TRUE(identical(names[i], zero[i], omitted[i]));
}

// Two backward passes over one forward give identical results; without zero_grad in between
// the parameter gradients accumulate (+=), like PyTorch's .grad.
TEST_P(Invariants, RepeatedBackwardIsIdenticalAndAccumulates) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(3, 7, 2, Nonlinearity::kTanh, true, false);
  RNN rnn = model(o, 9);
  const int64_t T = 8, B = 4;
  const Tensor x = random_tensor(input_shape(o, T, B), 1);
  const Tensor h0 = random_tensor(state_shape(o, B), 2);
  const Tensor go = random_tensor(output_shape(o, T, B), 3);
  RNNCache cache;
  rnn.forward_train(x, h0, cache);
  rnn.zero_grad();
  const RNNInputGrads g1 = rnn.backward(cache, go);
  const std::vector<float> w1 = rnn.flat_grads().to_vector();
  rnn.zero_grad();
  const RNNInputGrads g2 = rnn.backward(cache, go);
  EXPECT_TRUE(identical("grad_input", g2.grad_input.to_vector(), g1.grad_input.to_vector()));
  EXPECT_TRUE(identical("grad_h0", g2.grad_h0.to_vector(), g1.grad_h0.to_vector()));
  EXPECT_TRUE(identical("parameter gradients", rnn.flat_grads().to_vector(), w1));
  // The input gradients are results (=), not accumulators.
  const RNNInputGrads g3 = rnn.backward(cache, go);
  EXPECT_TRUE(
      identical("grad_input (third pass)", g3.grad_input.to_vector(), g1.grad_input.to_vector()));
  // The parameter gradients doubled. A GEMM with beta = 1 adds its product to the old value in
  // blocks, so 2g may differ from g + g by float rounding: 1e-6 relative.
  std::vector<double> twice = to_double(w1);
  for (double& v : twice) v *= 2;
  EXPECT_TRUE(close("accumulated parameter gradients", rnn.flat_grads(), twice, 1e-6));
}

// Parameter gradients add onto whatever .grad holds (PyTorch's accumulation), exactly the
// reference's gradient on top of arbitrary starting values.
TEST_P(Invariants, ParameterGradientsAccumulateOntoExistingValues) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(4, 5, 2, Nonlinearity::kTanh, true, true);
  RNN rnn = model(o, 4);
  const int64_t T = 4, B = 3;
  const std::vector<double> x = random_floats(shape_numel(input_shape(o, T, B)), 1);
  const std::vector<double> go = random_floats(shape_numel(output_shape(o, T, B)), 2);
  const std::vector<double> start = random_floats(rnn.flat_grads().numel(), 3);
  Tensor grads = rnn.flat_grads();  // a handle onto the model's storage
  grads.copy_from(Tensor::from_vector({grads.numel()}, to_float(start)));
  RNNCache cache;
  rnn.forward_train(on_device(input_shape(o, T, B), x), Tensor(), cache);
  rnn.backward(cache, on_device(output_shape(o, T, B), go));
  const ReferenceRun ref = run_reference(rnn, x, T, B, nullptr, &go, nullptr);
  std::vector<double> added = host_values(rnn.flat_grads());
  for (size_t i = 0; i < added.size(); ++i) added[i] -= start[i];
  // float32 vs float64 gradients (DESIGN.md §4); the subtraction adds ~1e-7 of |start| ~ 1.
  EXPECT_TRUE(close("gradient added to .grad", added, ref.flat_grads, 1e-4));
  // grad(name) and parameter(name) are views into the flat buffers.
  const std::vector<double> w = host_values(rnn.grad("weight_hh_l1_reverse"));
  const std::vector<float> flat = rnn.flat_grads().to_vector();
  for (const auto& e : detail::make_param_layout(o).entries) {
    if (e.name != "weight_hh_l1_reverse") continue;
    for (size_t i = 0; i < w.size(); ++i)
      EXPECT_EQ(w[i], static_cast<double>(flat[static_cast<size_t>(e.offset) + i]));
  }
}

// Inference-mode forward and training-mode forward compute the same thing.
TEST_P(Invariants, InferenceForwardEqualsTrainingForward) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  for (bool bf : {false, true}) {
    const RNNOptions o = make_options(6, 8, 3, Nonlinearity::kTanh, true, bf);
    RNN rnn = model(o, 2);
    const int64_t T = 7, B = 3;
    const Tensor x = random_tensor(input_shape(o, T, B), 1);
    const Tensor h0 = random_tensor(state_shape(o, B), 2);
    RNNCache cache;
    const RNNOutput a = rnn.forward(x, h0);
    const RNNOutput b = rnn.forward_train(x, h0, cache);
    // Same kernels, same GEMMs, same order: identical floats.
    EXPECT_TRUE(identical("output", a.output.to_vector(), b.output.to_vector()));
    EXPECT_TRUE(identical("h_n", a.h_n.to_vector(), b.h_n.to_vector()));
  }
}

// Batch size 0: empty results of the right shapes, no crash, gradients untouched.
TEST_P(Invariants, BatchSizeZero) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  for (bool bf : {false, true}) {
    const RNNOptions o = make_options(3, 4, 2, Nonlinearity::kTanh, true, bf);
    RNN rnn = model(o, 1);
    const int64_t T = 5;
    const Tensor x = Tensor::empty(input_shape(o, T, 0), dev());
    const RNNOutput inference = rnn.forward(x);
    EXPECT_EQ(inference.output.shape(), output_shape(o, T, 0));
    EXPECT_EQ(inference.h_n.shape(), state_shape(o, 0));
    RNNCache cache;
    const RNNOutput out = rnn.forward_train(x, Tensor::empty(state_shape(o, 0), dev()), cache);
    EXPECT_EQ(out.output.shape(), output_shape(o, T, 0));
    EXPECT_EQ(out.h_n.shape(), state_shape(o, 0));
    EXPECT_TRUE(cache.valid());
    rnn.zero_grad();
    const RNNInputGrads g = rnn.backward(cache, Tensor::empty(output_shape(o, T, 0), dev()),
                                         Tensor::empty(state_shape(o, 0), dev()));
    EXPECT_EQ(g.grad_input.shape(), input_shape(o, T, 0));
    EXPECT_EQ(g.grad_h0.shape(), state_shape(o, 0));
    for (float v : rnn.flat_grads().to_vector()) ASSERT_EQ(v, 0.0f);
    // And the model still works on a real batch afterwards.
    const RNNOutput again = rnn.forward(Tensor::zeros(input_shape(o, T, 2), dev()));
    for (float v : again.output.to_vector()) ASSERT_TRUE(std::isfinite(v));
  }
}

// T = 1: the output is the final state of the last layer's directions, h_n's last rows.
TEST_P(Invariants, SequenceLengthOne) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(4, 5, 2, Nonlinearity::kReLU, true, false);
  RNN rnn = model(o, 8);
  const int64_t B = 3, H = o.hidden_size;
  const std::vector<double> x = random_floats(shape_numel(input_shape(o, 1, B)), 1);
  const RNNOutput out = rnn.forward(on_device(input_shape(o, 1, B), x));
  const std::vector<float> y = out.output.to_vector(), hn = out.h_n.to_vector();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t d = 0; d < 2; ++d)
      for (int64_t j = 0; j < H; ++j)
        EXPECT_EQ(y[(b * 2 + d) * H + j], hn[((2 + d) * B + b) * H + j]);
  const ReferenceRun ref = run_reference(rnn, x, 1, B, nullptr, nullptr, nullptr);
  EXPECT_TRUE(close("output", out.output, ref.fwd.output, 1e-5));  // float32 forward, §4
}

// A sequence longer than 65,535 steps (a CUDA grid dimension's limit), tiny sizes.
TEST_P(Invariants, SequenceLongerThan65535Steps) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(1, 2, 1, Nonlinearity::kTanh, true, false);
  RNN rnn = model(o, 6);
  const int64_t T = 70000, B = 2;
  const std::vector<double> x = random_floats(T * B, 1);
  const std::vector<double> go = random_floats(T * B * 4, 2);
  const std::vector<double> ghn = random_floats(2 * B * 2, 3);
  RNNCache cache;
  RNNOutput out{poisoned(output_shape(o, T, B), dev()), poisoned(state_shape(o, B), dev())};
  rnn.forward_train_into(on_device({T, B, 1}, x), Tensor(), cache, out);
  RNNInputGrads g{poisoned({T, B, 1}, dev()), poisoned(state_shape(o, B), dev())};
  rnn.zero_grad();
  rnn.backward_into(cache, on_device(output_shape(o, T, B), go), on_device(state_shape(o, B), ghn),
                    g);
  expect_matches_reference(rnn, x, T, B, nullptr, &go, &ghn, out, g);
}

// One model and one cache reused over growing and shrinking shapes: scratch buffers grown for a
// large call must not leak stale values into a smaller one, nor the other way round.
TEST_P(Invariants, WorkspaceReuseAcrossShapes) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(3, 6, 2, Nonlinearity::kTanh, true, true);
  RNN rnn = model(o, 12);
  RNNCache cache;
  RNNOutput out, inference;
  RNNInputGrads g;
  const std::pair<int64_t, int64_t> shapes[] = {{5, 3}, {9, 6}, {2, 1}, {9, 6}, {1, 7}, {4, 2}};
  uint64_t seed = 100;
  for (const auto& [T, B] : shapes) {
    SCOPED_TRACE("T=" + std::to_string(T) + " B=" + std::to_string(B));
    const std::vector<double> x = random_floats(shape_numel(input_shape(o, T, B)), ++seed);
    const std::vector<double> h0 = random_floats(shape_numel(state_shape(o, B)), ++seed);
    const std::vector<double> go = random_floats(shape_numel(output_shape(o, T, B)), ++seed);
    const Tensor xt = on_device(input_shape(o, T, B), x);
    const Tensor h0t = on_device(state_shape(o, B), h0);
    rnn.forward_into(xt, h0t, inference);
    rnn.forward_train_into(xt, h0t, cache, out);
    rnn.zero_grad();
    rnn.backward_into(cache, on_device(output_shape(o, T, B), go), Tensor(), g);
    expect_matches_reference(rnn, x, T, B, &h0, &go, nullptr, out, g);
    // Inference gives the training forward's floats (InferenceForwardEqualsTrainingForward).
    EXPECT_TRUE(
        identical("inference output", inference.output.to_vector(), out.output.to_vector()));
  }
}

// A cache belongs to its latest forward_train: backward uses that one's saved activations.
TEST_P(Invariants, CacheHoldsTheLatestForward) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(2, 3, 1, Nonlinearity::kTanh, false, false);
  RNN rnn = model(o, 1);
  const std::vector<double> x1 = random_floats(4 * 2 * 2, 1), x2 = random_floats(3 * 5 * 2, 2);
  const std::vector<double> go = random_floats(3 * 5 * 3, 3);
  RNNCache cache;
  rnn.forward_train(on_device({4, 2, 2}, x1), Tensor(), cache);
  const RNNOutput out = rnn.forward_train(on_device({3, 5, 2}, x2), Tensor(), cache);
  rnn.zero_grad();
  const RNNInputGrads g = rnn.backward(cache, on_device({3, 5, 3}, go));
  expect_matches_reference(rnn, x2, 3, 5, nullptr, &go, nullptr, out, g);
}

// Arguments that are views at an offset into a larger tensor, and results that are such views,
// behave exactly like standalone tensors (data() honours the view's offset everywhere). Two sets
// of offsets: odd ones, and multiples of 64 floats (256 bytes, cudaMalloc's alignment).
TEST_P(Invariants, ViewsAsArgumentsAndResults) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(3, 4, 2, Nonlinearity::kTanh, true, true);
  RNN rnn = model(o, 21);
  const int64_t T = 5, B = 2;
  const Shape in_shape = input_shape(o, T, B), st_shape = state_shape(o, B);
  const Shape out_shape = output_shape(o, T, B);
  const std::vector<float> x = to_float(random_floats(shape_numel(in_shape), 1));
  const std::vector<float> h0 = to_float(random_floats(shape_numel(st_shape), 2));
  const std::vector<float> go = to_float(random_floats(shape_numel(out_shape), 3));
  auto embedded = [&](const std::vector<float>& v, const Shape& s, int64_t offset) {
    std::vector<float> big(v.size() + offset + 5, kNaN);  // NaN around the view
    std::copy(v.begin(), v.end(), big.begin() + offset);
    return Tensor::from_vector({static_cast<int64_t>(big.size())}, big, dev()).view(s, offset);
  };
  RNNCache c1;
  const RNNOutput a = rnn.forward_train(Tensor::from_vector(in_shape, x, dev()),
                                        Tensor::from_vector(st_shape, h0, dev()), c1);
  rnn.zero_grad();
  const RNNInputGrads ga = rnn.backward(c1, Tensor::from_vector(out_shape, go, dev()));
  const std::vector<float> wa = rnn.flat_grads().to_vector();
  // Offsets of: output, h_n, input, h0, grad_input, grad_h0, grad_output.
  for (const int64_t unit : {1, 64}) {
    SCOPED_TRACE("offsets in units of " + std::to_string(unit) + " floats");
    const int64_t k[7] = {3 * unit, 11 * unit, 7 * unit, 13 * unit, 2 * unit, 9 * unit, 17 * unit};
    RNNCache c2;
    RNNOutput b{embedded(std::vector<float>(shape_numel(out_shape), kNaN), out_shape, k[0]),
                embedded(std::vector<float>(shape_numel(st_shape), kNaN), st_shape, k[1])};
    rnn.forward_train_into(embedded(x, in_shape, k[2]), embedded(h0, st_shape, k[3]), c2, b);
    rnn.zero_grad();
    RNNInputGrads gb{embedded(std::vector<float>(shape_numel(in_shape), kNaN), in_shape, k[4]),
                     embedded(std::vector<float>(shape_numel(st_shape), kNaN), st_shape, k[5])};
    rnn.backward_into(c2, embedded(go, out_shape, k[6]), Tensor(), gb);
    const std::pair<std::string, std::pair<std::vector<float>, std::vector<float>>> results[] = {
        {"output", {b.output.to_vector(), a.output.to_vector()}},
        {"h_n", {b.h_n.to_vector(), a.h_n.to_vector()}},
        {"grad_input", {gb.grad_input.to_vector(), ga.grad_input.to_vector()}},
        {"grad_h0", {gb.grad_h0.to_vector(), ga.grad_h0.to_vector()}},
        {"parameter gradients", {rnn.flat_grads().to_vector(), wa}}};
    for (const auto& [what, got_want] : results) {
      // The same computation on the same values gives identical floats, except where cuBLAS
      // takes another kernel for a pointer that is not 16-byte aligned and sums in another
      // order: float rounding then, far under 1e-5 on these short chains, while a view read at
      // a wrong offset gives NaN (the padding) or O(1) errors.
      if (GetParam() == Where::kCUDA && unit == 1)
        EXPECT_TRUE(close(what, to_double(got_want.first), to_double(got_want.second), 1e-5));
      else
        EXPECT_TRUE(identical(what, got_want.first, got_want.second));
    }
  }
}

// A moved model keeps its parameters and keeps working; a cache filled before the move names
// the old object, so it is refused rather than misused.
TEST_P(Invariants, MovedModelStillWorks) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const RNNOptions o = make_options(3, 4, 1, Nonlinearity::kTanh, true, false);
  RNN a = model(o, 5);
  const std::vector<float> params = a.flat_parameters().to_vector();
  const int64_t T = 4, B = 2;
  const std::vector<double> x = random_floats(shape_numel(input_shape(o, T, B)), 1);
  const std::vector<double> go = random_floats(shape_numel(output_shape(o, T, B)), 2);
  const Tensor xt = on_device(input_shape(o, T, B), x);
  const Tensor got = on_device(output_shape(o, T, B), go);
  RNNCache before;
  a.forward_train(xt, Tensor(), before);
  RNN b(std::move(a));
  EXPECT_TRUE(identical("parameters", b.flat_parameters().to_vector(), params));
  EXPECT_EQ(b.parameter_names().size(), 8u);  // 4 per direction
  RNNCache cache;
  const RNNOutput out = b.forward_train(xt, Tensor(), cache);
  b.zero_grad();
  const RNNInputGrads g = b.backward(cache, got);
  expect_matches_reference(b, x, T, B, nullptr, &go, nullptr, out, g);
  // The moved-to model is the same model: a cache filled before the move still belongs to it
  // and gives the same gradients.
  const std::vector<float> grads = b.flat_grads().to_vector();
  b.zero_grad();
  b.backward(before, got);
  EXPECT_TRUE(identical("gradients from the pre-move cache", b.flat_grads().to_vector(), grads));
}

INSTANTIATE_TEST_SUITE_P(Backends, Invariants, ::testing::ValuesIn(every_algorithm()),
                         [](const ::testing::TestParamInfo<Where>& info) {
                           return std::string(where_name(info.param));
                         });

// PyTorch's initialisation: U(-1/sqrt(H), 1/sqrt(H)), reproducible from the seed, the same on
// every device.
TEST(Initialisation, SeededUniformLikePyTorch) {
  const RNNOptions o = make_options(7, 16, 2, Nonlinearity::kTanh, true, false);
  Context ctx(Device::cpu());
  RNN a(ctx, o, 42), b(ctx, o, 42), c(ctx, o, 43);
  const std::vector<float> pa = a.flat_parameters().to_vector();
  EXPECT_TRUE(identical("same seed", b.flat_parameters().to_vector(), pa));
  EXPECT_FALSE(identical("other seed", c.flat_parameters().to_vector(), pa));
  const double k = 1.0 / std::sqrt(16.0);
  double lo = 1, hi = -1, mean = 0;
  for (float v : pa) {
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
    mean += v;
  }
  mean /= static_cast<double>(pa.size());
  EXPECT_GE(lo, -k);
  EXPECT_LE(hi, k);
  // ~1,500 draws: the extremes come within 1% of the bounds, the mean within ~4 sigma of 0
  // (sigma = k / sqrt(3 n) ~ 0.0019).
  EXPECT_LT(lo, -0.99 * k);
  EXPECT_GT(hi, 0.99 * k);
  EXPECT_LT(std::fabs(mean), 0.008);
  for (float v : a.flat_grads().to_vector()) ASSERT_EQ(v, 0.0f);  // gradients start at zero
}

// The seeded initialisation is drawn on the host: a CUDA model gets the CPU model's values.
TEST(Initialisation, CudaSameAsCpu) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const RNNOptions o = make_options(7, 16, 2, Nonlinearity::kTanh, true, false);
  Context cpu(Device::cpu()), gpu(Device::cuda(0));
  RNN c(cpu, o, 42), g(gpu, o, 42);
  EXPECT_TRUE(identical("cuda, same seed", g.flat_parameters().to_vector(),
                        c.flat_parameters().to_vector()));
}

}  // namespace
}  // namespace elman::test
