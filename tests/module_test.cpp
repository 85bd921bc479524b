// elman::Module, the parameter API every layer shares: RNN, Linear and Embedding, each through a
// Module&, name their parameters, hand out views of one flat buffer (and of one gradient buffer)
// in order, check set_parameter, zero their gradients as a counted write, and refuse every call
// once moved from, naming the layer.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace elman::test {
namespace {

struct Layers {
  Context ctx{Device::cpu()};
  RNN rnn{ctx, make_options(2, 3, 1, Nonlinearity::kTanh, true, false), 1};
  Linear linear{ctx, 3, 2, 1};
  Embedding embedding{ctx, 5, 4, std::nullopt, 1};
  // Each layer with its kind and its names.
  struct Entry {
    Module* m;
    std::string kind;
    std::vector<std::string> names;
  };
  std::vector<Entry> all() {
    return {{&rnn,
             "RNN",
             {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
              "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"}},
            {&linear, "Linear", {"weight", "bias"}},
            {&embedding, "Embedding", {"weight"}}};
  }
};

TEST(Module, ParametersAreConsecutiveViewsOfTheFlatBuffers) {
  Layers layers;
  for (const auto& [m, kind, names] : layers.all()) {
    SCOPED_TRACE(kind);
    EXPECT_EQ(m->parameter_names(), names);
    const std::vector<Tensor> params = m->parameters(), grads = m->grads();
    ASSERT_EQ(params.size(), names.size());
    ASSERT_EQ(grads.size(), names.size());
    const float* p = m->flat_parameters().data();
    const float* g = m->flat_grads().data();
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(params[i].data(), p) << names[i];
      EXPECT_EQ(grads[i].data(), g) << names[i];
      EXPECT_EQ(m->parameter(names[i]).data(), p);
      EXPECT_EQ(m->grad(names[i]).data(), g);
      EXPECT_EQ(params[i].shape(), grads[i].shape());
      p += params[i].numel();
      g += grads[i].numel();
    }
    EXPECT_EQ(p, m->flat_parameters().data() + m->flat_parameters().numel()) << "gaps or overlap";
  }
}

TEST(Module, SetParameterAndZeroGradAreChecked) {
  Layers layers;
  for (const auto& [m, kind, names] : layers.all()) {
    SCOPED_TRACE(kind);
    const Tensor& first = m->parameter(names[0]);
    m->set_parameter(names[0], Tensor::full(first.shape(), 0.5f));
    for (float v : first.to_vector()) EXPECT_EQ(v, 0.5f);
    ELMAN_EXPECT_ERROR(m->set_parameter(names[0], Tensor::zeros({7})), kind + "::set_parameter",
                       names[0], "[7]");
    ELMAN_EXPECT_ERROR(m->set_parameter(names[0], Tensor()), "undefined");
    // An unknown name lists the known ones, in order.
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    ELMAN_EXPECT_ERROR(m->parameter("nope"), kind + "::parameter", "'nope'", known);
    ELMAN_EXPECT_ERROR(m->grad("nope"), kind + "::grad", "'nope'");
    // zero_grad zeroes every gradient and counts as a write.
    Tensor grads = m->flat_grads();
    grads.copy_from(Tensor::full(grads.shape(), 3.0f));
    const uint64_t before = grads.version();
    m->zero_grad();
    for (float v : m->flat_grads().to_vector()) EXPECT_EQ(v, 0.0f);
    EXPECT_GT(m->flat_grads().version(), before);
  }
}

TEST(Module, MovedFromLayersRefuseEveryParameterCall) {
  Layers layers;
  RNN rnn = std::move(layers.rnn);
  Linear linear = std::move(layers.linear);
  Embedding embedding = std::move(layers.embedding);
  for (const auto& [m, kind, names] : layers.all()) {
    SCOPED_TRACE(kind);
    const std::string moved = "this " + kind + " was moved from; use the " + kind;
    ELMAN_EXPECT_ERROR(m->parameter(names[0]), kind + "::parameter", moved);
    ELMAN_EXPECT_ERROR(m->grad(names[0]), kind + "::grad", moved);
    ELMAN_EXPECT_ERROR(m->set_parameter(names[0], Tensor::zeros({1})), moved);
    ELMAN_EXPECT_ERROR(m->zero_grad(), kind + "::zero_grad", moved);
    EXPECT_TRUE(m->context().device().is_cpu());  // the context handle stays
  }
  ELMAN_EXPECT_ERROR(layers.linear.weight(), "Linear::weight", "moved from");
  ELMAN_EXPECT_ERROR(layers.linear.bias(), "Linear::bias", "moved from");
  ELMAN_EXPECT_ERROR(layers.embedding.weight(), "Embedding::weight", "moved from");
  // Moving a moved-from layer gives another moved-from layer, not a usable empty one.
  RNN twice = std::move(layers.rnn);
  ELMAN_EXPECT_ERROR(twice.forward(Tensor::zeros({2, 1, 2})), "moved from");
  ELMAN_EXPECT_ERROR(twice.zero_grad(), "moved from");
  Linear linear_twice = std::move(layers.linear);
  ELMAN_EXPECT_ERROR(linear_twice.forward(Tensor::zeros({1, 3})), "moved from");
  // The layers moved into work, with the same parameters.
  EXPECT_EQ(rnn.parameter_names().size(), 8u);
  EXPECT_EQ(linear.forward(Tensor::zeros({1, 3})).numel(), 2);
  EXPECT_EQ(embedding.forward(IndexTensor::from_vector({1}, {4})).numel(), 4);
}

}  // namespace
}  // namespace elman::test
