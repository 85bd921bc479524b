// elman against PyTorch: the committed fixtures of tools/make_fixtures.py (torch.nn.RNN, float64)
// checked against the double reference, and the float32 CPU and CUDA backends checked against them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/source_path.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

using nlohmann::json;

// The fixtures' folder (tests/source_path.h: the source tree's, or a carried bundle's).
std::string fixture_dir() { return source_path("tests/fixtures"); }

json load_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open fixture " + path);
  return json::parse(f);
}

std::vector<std::string> read_index() {
  const json index = load_json(fixture_dir() + "/index.json");
  std::vector<std::string> names;
  for (const auto& n : index.at("cases")) names.push_back(n.get<std::string>());
  return names;
}

// For the parameterised suites, read before main(): a missing index gives no cases here (an
// exception would abort the binary) and fails IndexCoversTheGrid, which reads it again.
std::vector<std::string> fixture_names() {
  try {
    return read_index();
  } catch (const std::exception&) {
    return {};
  }
}

// One fixture, read into the shapes the reference and the model want.
struct Fixture {
  std::string name;
  RNNOptions o;
  int64_t T = 0, B = 0;
  std::vector<std::string> param_names;
  std::vector<Shape> param_shapes;
  std::vector<std::vector<double>> param_values, param_grads;
  std::vector<double> input, h0, grad_output, grad_h_n;
  bool has_h0 = false, has_grad_output = false, has_grad_h_n = false;
  std::vector<double> output, h_n, grad_input, grad_h0;

  std::vector<double> flat_params() const { return concat(param_values); }
  std::vector<double> flat_grads() const { return concat(param_grads); }
  static std::vector<double> concat(const std::vector<std::vector<double>>& parts) {
    std::vector<double> all;
    for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
  }
};

Fixture load_fixture(const std::string& file) {
  const json j = load_json(fixture_dir() + "/" + file);
  Fixture f;
  f.name = j.at("name").get<std::string>();
  const json& o = j.at("options");
  f.o.input_size = o.at("input_size").get<int64_t>();
  f.o.hidden_size = o.at("hidden_size").get<int64_t>();
  f.o.num_layers = o.at("num_layers").get<int64_t>();
  f.o.nonlinearity = parse_nonlinearity(o.at("nonlinearity").get<std::string>());
  f.o.bias = o.at("bias").get<bool>();
  f.o.batch_first = o.at("batch_first").get<bool>();
  f.o.bidirectional = o.at("bidirectional").get<bool>();
  f.T = j.at("seq_len").get<int64_t>();
  f.B = j.at("batch").get<int64_t>();
  for (const auto& p : j.at("parameters")) {
    f.param_names.push_back(p.at("name").get<std::string>());
    f.param_shapes.push_back(p.at("shape").get<Shape>());
    f.param_values.push_back(p.at("values").get<std::vector<double>>());
  }
  for (const auto& p : j.at("grad_parameters"))
    f.param_grads.push_back(p.at("values").get<std::vector<double>>());
  f.input = j.at("input").at("values").get<std::vector<double>>();
  f.has_h0 = !j.at("h0").is_null();
  if (f.has_h0) f.h0 = j.at("h0").at("values").get<std::vector<double>>();
  f.has_grad_output = !j.at("grad_output").is_null();
  if (f.has_grad_output) f.grad_output = j.at("grad_output").get<std::vector<double>>();
  f.has_grad_h_n = !j.at("grad_h_n").is_null();
  if (f.has_grad_h_n) f.grad_h_n = j.at("grad_h_n").get<std::vector<double>>();
  f.output = j.at("output").at("values").get<std::vector<double>>();
  f.h_n = j.at("h_n").at("values").get<std::vector<double>>();
  f.grad_input = j.at("grad_input").get<std::vector<double>>();
  if (f.has_h0) f.grad_h0 = j.at("grad_h0").get<std::vector<double>>();
  return f;
}

std::string fixture_case_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param.substr(0, info.param.size() - 5);  // without ".json"
}

// The fixtures cover the grid the tests claim to (tools/make_fixtures.py asserts the same).
TEST(PyTorchFixtures, IndexCoversTheGrid) {
  const auto names = read_index();
  EXPECT_GE(names.size(), 20u);
  bool tanh = false, relu = false, bi = false, bf = false, no_h0 = false, l3 = false;
  bool no_gout = false, no_ghn = false;
  for (const auto& n : names) {
    const Fixture f = load_fixture(n);
    tanh |= f.o.nonlinearity == Nonlinearity::kTanh;
    relu |= f.o.nonlinearity == Nonlinearity::kReLU;
    bi |= f.o.bidirectional;
    bf |= f.o.batch_first;
    no_h0 |= !f.has_h0;
    l3 |= f.o.num_layers == 3;
    no_gout |= !f.has_grad_output;
    no_ghn |= !f.has_grad_h_n;
  }
  EXPECT_TRUE(tanh && relu && bi && bf && no_h0 && l3 && no_gout && no_ghn);
}

class PyTorchFixture : public ::testing::TestWithParam<std::string> {};

// elman's parameter names, order and shapes are torch.nn.RNN's (named_parameters()).
TEST_P(PyTorchFixture, ParameterNamesAndShapesMatch) {
  const Fixture f = load_fixture(GetParam());
  Context ctx(Device::cpu());
  RNN rnn(ctx, f.o, 0);
  EXPECT_EQ(rnn.parameter_names(), f.param_names);
  ASSERT_EQ(rnn.parameters().size(), f.param_shapes.size());
  for (size_t i = 0; i < f.param_shapes.size(); ++i)
    EXPECT_EQ(rnn.parameters()[i].shape(), f.param_shapes[i]) << f.param_names[i];
  EXPECT_EQ(rnn.flat_parameters().numel(), static_cast<int64_t>(f.flat_params().size()));
}

// The double reference reproduces PyTorch's float64 forward and every gradient.
TEST_P(PyTorchFixture, ReferenceMatchesPyTorchInDouble) {
  const Fixture f = load_fixture(GetParam());
  const auto w = weights_from_doubles(f.o, f.flat_params());
  const auto* h0 = f.has_h0 ? &f.h0 : nullptr;
  const auto fwd = reference::forward<double>(f.o, w, f.input, f.T, f.B, h0);
  const auto g = reference::backward<double>(f.o, w, f.input, f.T, f.B, h0, fwd,
                                             f.has_grad_output ? &f.grad_output : nullptr,
                                             f.has_grad_h_n ? &f.grad_h_n : nullptr);
  // float64 vs float64, same math in a different summation order (DESIGN.md §4).
  constexpr double kTol = 1e-10;
  EXPECT_TRUE(close("output", fwd.output, f.output, kTol));
  EXPECT_TRUE(close("h_n", fwd.h_n, f.h_n, kTol));
  const std::vector<double> grads = reference::flat_from_weights<double>(f.o, g.weights);
  EXPECT_TRUE(close("parameter gradients", grads, f.flat_grads(), kTol));
  EXPECT_TRUE(close("grad_input", g.input, f.grad_input, kTol));
  if (f.has_h0) {
    EXPECT_TRUE(close("grad_h0", g.h0, f.grad_h0, kTol));
  }
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PyTorchFixture);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PyTorchFixtureBackend);
INSTANTIATE_TEST_SUITE_P(Fixtures, PyTorchFixture, ::testing::ValuesIn(fixture_names()),
                         fixture_case_name);

// The float32 backends against PyTorch's float64 results, parameters loaded by name.
class PyTorchFixtureBackend : public ::testing::TestWithParam<std::tuple<std::string, Where>> {};

TEST_P(PyTorchFixtureBackend, Float32MatchesPyTorch) {
  const Where where = std::get<1>(GetParam());
  ELMAN_SKIP_IF_NO_DEVICE(where);
  const Device dev = device_of(where);
  const Fixture f = load_fixture(std::get<0>(GetParam()));
  Context ctx = make_context(where);
  RNN rnn = make_rnn(ctx, where, f.o, 0);
  for (size_t i = 0; i < f.param_names.size(); ++i)
    rnn.set_parameter(f.param_names[i],
                      Tensor::from_vector(f.param_shapes[i], to_float(f.param_values[i])));
  const Shape in_shape = input_shape(f.o, f.T, f.B), st_shape = state_shape(f.o, f.B);
  const Tensor input = Tensor::from_vector(in_shape, to_float(f.input), dev);
  const Tensor h0 = f.has_h0 ? Tensor::from_vector(st_shape, to_float(f.h0), dev) : Tensor();

  // float32 vs float64 (DESIGN.md §4): 1e-5 forward (a few float roundings per step over <= 5
  // steps), 1e-4 gradients.
  constexpr double kForwardTol = 1e-5, kGradTol = 1e-4;
  RNNOutput inference{poisoned(output_shape(f.o, f.T, f.B), dev), poisoned(st_shape, dev)};
  rnn.forward_into(input, h0, inference);
  EXPECT_TRUE(close("inference output", inference.output, f.output, kForwardTol));
  EXPECT_TRUE(close("inference h_n", inference.h_n, f.h_n, kForwardTol));

  RNNCache cache;
  RNNOutput out{poisoned(output_shape(f.o, f.T, f.B), dev), poisoned(st_shape, dev)};
  rnn.forward_train_into(input, h0, cache, out);
  EXPECT_TRUE(close("output", out.output, f.output, kForwardTol));
  EXPECT_TRUE(close("h_n", out.h_n, f.h_n, kForwardTol));

  const Tensor go = f.has_grad_output ? Tensor::from_vector(output_shape(f.o, f.T, f.B),
                                                            to_float(f.grad_output), dev)
                                      : Tensor();
  const Tensor ghn =
      f.has_grad_h_n ? Tensor::from_vector(st_shape, to_float(f.grad_h_n), dev) : Tensor();
  RNNInputGrads g{poisoned(in_shape, dev), poisoned(st_shape, dev)};
  rnn.backward_into(cache, go, ghn, g);
  for (size_t i = 0; i < f.param_names.size(); ++i)
    EXPECT_TRUE(
        close("d" + f.param_names[i], rnn.grad(f.param_names[i]), f.param_grads[i], kGradTol));
  EXPECT_TRUE(close("grad_input", g.grad_input, f.grad_input, kGradTol));
  if (f.has_h0) {
    EXPECT_TRUE(close("grad_h0", g.grad_h0, f.grad_h0, kGradTol));
  } else {  // PyTorch has no gradient for an omitted hx; elman's must at least be written
    for (float v : g.grad_h0.to_vector()) ASSERT_TRUE(std::isfinite(v)) << "grad_h0 unwritten";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PyTorchFixtureBackend,
                         ::testing::Combine(::testing::ValuesIn(fixture_names()),
                                            ::testing::ValuesIn(every_algorithm())),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, Where>>& info) {
                           const std::string& n = std::get<0>(info.param);
                           return n.substr(0, n.size() - 5) + "_" +
                                  where_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace elman::test
