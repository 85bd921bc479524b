// Small helpers of the training tests: host <-> tensor shortcuts, seeded random values and data,
// and the RNN + Linear model they train. (Public API only, so the tests depend on nothing else.)
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "elman/elman.h"
#include "host/init.h"

// Expects `call` to throw elman::Error whose message holds `part`.
#define EXPECT_ERROR_WITH(call, part)                                             \
  do {                                                                            \
    try {                                                                         \
      call;                                                                       \
      ADD_FAILURE() << #call << " did not throw";                                 \
    } catch (const Error& e) {                                                    \
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what(); \
    }                                                                             \
  } while (0)

namespace elman::train_test {

inline std::vector<float> random_floats(int64_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(detail::uniform_value(gen(), scale));
  return v;
}

inline void set(Tensor& t, const std::vector<float>& values) {
  t.copy_from(Tensor::from_vector(t.shape(), values, Device::cpu()));
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// A batch_first RNN of `layers` layers (both directions when `bidirectional`).
inline RNNOptions rnn_options(int64_t in, int64_t hidden, int64_t layers = 1,
                              bool bidirectional = false) {
  RNNOptions o;
  o.input_size = in;
  o.hidden_size = hidden;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  o.batch_first = true;
  return o;
}

// n random sequences of T steps of I inputs, with `targets` random targets each (values in
// [-1, 1], inputs from `seed`, targets from seed + 100).
inline Dataset regression(int64_t n, int64_t T, int64_t I, int64_t targets, uint64_t seed) {
  Dataset d;
  d.seq_len = T;
  d.input_size = I;
  d.target_size = targets;
  d.inputs = random_floats(n * T * I, seed);
  d.targets = random_floats(n * targets, seed + 100);
  return d;
}

// Token data: n sequences of T ids in 0..V-1 and, for cross-entropy, a class id in 0..K-1 per
// step (every-step head) or per example (last-step head), seeded.
inline Dataset token_data(int64_t n, int64_t T, int64_t V, int64_t K, HeadMode head,
                          uint64_t seed) {
  std::mt19937_64 gen(seed);
  Dataset d;
  d.seq_len = T;
  d.input_size = V;
  d.tokens = true;
  d.target_size = head == HeadMode::kLastStep ? 1 : T;
  for (int64_t i = 0; i < n * T; ++i) d.input_ids.push_back(static_cast<int64_t>(gen() % V));
  for (int64_t i = 0; i < n * d.target_size; ++i)
    d.target_ids.push_back(static_cast<int64_t>(gen() % K));
  return d;
}

// The model the training tests train: `rnn` (seeded with `seed`) followed by the Linear head
// `fc` (seed + 1) on its output, both in `ctx`.
struct Model {
  Context ctx;
  RNN rnn;
  Linear fc;
  Model(const RNNOptions& o, int64_t out, uint64_t seed, Device dev = Device::cpu())
      : ctx(dev), rnn(ctx, o, seed), fc(ctx, o.num_directions() * o.hidden_size, out, seed + 1) {}
  Model(int64_t in, int64_t hidden, int64_t out, uint64_t seed, Device dev = Device::cpu())
      : Model(rnn_options(in, hidden), out, seed, dev) {}

  // rnn's flat parameters followed by fc's.
  std::vector<float> params() {
    auto a = rnn.flat_parameters().to_vector(), b = fc.flat_parameters().to_vector();
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  // The inverse of params().
  void set_params(const std::vector<float>& p) {
    Tensor rnn_params = rnn.flat_parameters(), fc_params = fc.flat_parameters();  // handles
    const int64_t n = rnn_params.numel();
    rnn_params.copy_from(Tensor::from_vector({n}, std::vector<float>(p.begin(), p.begin() + n)));
    fc_params.copy_from(
        Tensor::from_vector(fc_params.shape(), std::vector<float>(p.begin() + n, p.end())));
  }
};

// One full-batch SGD step with lr 1 moves the parameters from p0 to p1 by -grad: the relative
// error sqrt(sum (g - fd)^2 / sum fd^2) of g = p0 - p1 against central differences (h = 1e-2)
// of `loss` (set_params moves the model to a point). Parameters where skip(i) are left out.
template <typename SetParams, typename Loss, typename Step>
double step_gradient_error(const std::vector<float>& p0, SetParams set_params, Loss loss, Step step,
                           const std::function<bool(size_t)>& skip = {}) {
  std::vector<double> fd(p0.size());
  const float h = 1e-2f;
  for (size_t i = 0; i < p0.size(); ++i) {
    std::vector<float> p = p0;
    p[i] = p0[i] + h;
    set_params(p);
    const double lp = loss();
    p[i] = p0[i] - h;
    set_params(p);
    fd[i] = (lp - loss()) / (2.0 * h);
  }
  set_params(p0);
  const std::vector<float> p1 = step();
  double num = 0, den = 0;
  for (size_t i = 0; i < p0.size(); ++i) {
    if (skip && skip(i)) continue;
    const double g = static_cast<double>(p0[i]) - p1[i];
    num += (g - fd[i]) * (g - fd[i]);
    den += fd[i] * fd[i];
  }
  return std::sqrt(num / den);
}

// Gives `opt` the model's parameters and gradients: rnn's as group 0, fc's as group 1.
inline void add_model(Optimizer& opt, Model& m) {
  opt.add_parameters(m.rnn.flat_parameters(), m.rnn.flat_grads());
  opt.add_parameters(m.fc.flat_parameters(), m.fc.flat_grads());
}

}  // namespace elman::train_test
