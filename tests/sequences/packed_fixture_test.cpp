// Variable-length batches against PyTorch: fixtures made by tools/make_packed_fixtures.py with
// pack_padded_sequence (unsorted lengths, lengths 1 and T, bidirectional, 2 layers).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tests/source_path.h"

namespace elman::test {
namespace {

struct PackedCase {
  std::string name;
  RNNOptions o;
  int64_t T = 0, B = 0;
  std::vector<int64_t> lengths;
  std::vector<std::string> names;
  std::vector<double> params, input, h0, grad_output, grad_h_n;
  std::vector<double> output, h_n, grad_params, grad_input, grad_h0;
  bool has_h0 = false;
};

std::vector<double> values(const nlohmann::json& j) {
  return j.is_object() ? j.at("values").get<std::vector<double>>() : j.get<std::vector<double>>();
}

std::vector<PackedCase> load_cases() {
  const std::string dir = source_path("tests/sequences/fixtures");
  std::ifstream index(dir + "/index.json");
  if (!index) throw std::runtime_error("cannot open " + dir + "/index.json");
  std::vector<PackedCase> cases;
  const nlohmann::json listing = nlohmann::json::parse(index);  // kept alive for the loop
  for (const auto& file : listing.at("cases")) {
    std::ifstream in(dir + "/" + file.get<std::string>());
    const nlohmann::json j = nlohmann::json::parse(in);
    PackedCase c;
    c.name = j.at("name");
    const auto& o = j.at("options");
    c.o = make_options(o.at("input_size"), o.at("hidden_size"), o.at("num_layers"),
                       parse_nonlinearity(o.at("nonlinearity")), o.at("bidirectional"),
                       o.at("batch_first"), o.at("bias"));
    c.T = j.at("seq_len");
    c.B = j.at("batch");
    c.lengths = j.at("lengths").get<std::vector<int64_t>>();
    for (const auto& p : j.at("parameters")) {
      c.names.push_back(p.at("name"));
      const auto v = values(p);
      c.params.insert(c.params.end(), v.begin(), v.end());
    }
    for (const auto& p : j.at("grad_parameters")) {
      const auto v = values(p);
      c.grad_params.insert(c.grad_params.end(), v.begin(), v.end());
    }
    c.input = values(j.at("input"));
    c.has_h0 = !j.at("h0").is_null();
    if (c.has_h0) c.h0 = values(j.at("h0")), c.grad_h0 = values(j.at("grad_h0"));
    c.grad_output = values(j.at("grad_output"));
    c.grad_h_n = values(j.at("grad_h_n"));
    c.output = values(j.at("output"));
    c.h_n = values(j.at("h_n"));
    c.grad_input = values(j.at("grad_input"));
    cases.push_back(std::move(c));
  }
  return cases;
}

const std::vector<PackedCase>& cases() {
  static const std::vector<PackedCase> all = load_cases();
  return all;
}

TEST(PackedFixtures, CoverWhatTheIssueAsks) {
  ASSERT_GE(cases().size(), 5u) << "fixtures missing: run tools/make_packed_fixtures.py";
  bool unsorted = false, has_one = false, has_full = false, bi_two_layers = false;
  for (const auto& c : cases()) {
    unsorted |= !std::is_sorted(c.lengths.rbegin(), c.lengths.rend());
    has_one |= std::count(c.lengths.begin(), c.lengths.end(), 1) > 0;
    has_full |= std::count(c.lengths.begin(), c.lengths.end(), c.T) > 0;
    bi_two_layers |= c.o.bidirectional && c.o.num_layers == 2;
  }
  EXPECT_TRUE(unsorted) << "no case with unsorted lengths";
  EXPECT_TRUE(has_one) << "no case with a length of 1";
  EXPECT_TRUE(has_full) << "no case with a length of T";
  EXPECT_TRUE(bi_two_layers) << "no bidirectional 2-layer case";
}

// The reference in double equals PyTorch in double: 1e-10 (DESIGN.md §4, float64 vs float64).
TEST(PackedFixtures, ReferenceMatchesPyTorch) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto w = weights_from_doubles(c.o, c.params);
    const auto* h0 = c.has_h0 ? &c.h0 : nullptr;
    const auto fwd = reference::forward<double>(c.o, w, c.input, c.T, c.B, h0, &c.lengths);
    const auto g = reference::backward<double>(c.o, w, c.input, c.T, c.B, h0, fwd, &c.grad_output,
                                               &c.grad_h_n, &c.lengths);
    EXPECT_TRUE(close("output", fwd.output, c.output, 1e-10));
    EXPECT_TRUE(close("h_n", fwd.h_n, c.h_n, 1e-10));
    EXPECT_TRUE(
        close("grad params", reference::flat_from_weights(c.o, g.weights), c.grad_params, 1e-10));
    EXPECT_TRUE(close("grad input", g.input, c.grad_input, 1e-10));
    if (c.has_h0) {
      EXPECT_TRUE(close("grad h0", g.h0, c.grad_h0, 1e-10));
    }
  }
}

class PackedBackend : public ::testing::TestWithParam<Where> {};

// A backend in float32 against PyTorch in float64: 1e-5 forward, 1e-4 gradients (DESIGN.md §4).
TEST_P(PackedBackend, MatchesPyTorch) {
  ELMAN_SKIP_IF_NO_DEVICE(GetParam());
  const Device device = device_of(GetParam());
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    Context ctx = make_context(GetParam());
    RNN rnn = make_rnn(ctx, GetParam(), c.o, 1);
    ASSERT_EQ(rnn.parameter_names(), c.names);
    Tensor params = rnn.flat_parameters();  // a handle onto the model's storage
    params.copy_from(
        Tensor::from_vector({static_cast<int64_t>(c.params.size())}, to_float(c.params)));
    rnn.zero_grad();
    const Tensor x = Tensor::from_vector(input_shape(c.o, c.T, c.B), to_float(c.input), device);
    const Tensor h0 =
        c.has_h0 ? Tensor::from_vector(state_shape(c.o, c.B), to_float(c.h0), device) : Tensor();
    RNNCache cache;
    RNNOutput out{poisoned(output_shape(c.o, c.T, c.B), device),
                  poisoned(state_shape(c.o, c.B), device)};
    rnn.forward_train_into(x, h0, cache, out, c.lengths);
    EXPECT_TRUE(close("output", out.output, c.output, 1e-5));
    EXPECT_TRUE(close("h_n", out.h_n, c.h_n, 1e-5));
    RNNInputGrads g{poisoned(input_shape(c.o, c.T, c.B), device),
                    poisoned(state_shape(c.o, c.B), device)};
    rnn.backward_into(
        cache, Tensor::from_vector(output_shape(c.o, c.T, c.B), to_float(c.grad_output), device),
        Tensor::from_vector(state_shape(c.o, c.B), to_float(c.grad_h_n), device), g);
    EXPECT_TRUE(close("grad params", rnn.flat_grads(), c.grad_params, 1e-4));
    EXPECT_TRUE(close("grad input", g.grad_input, c.grad_input, 1e-4));
    if (c.has_h0) {
      EXPECT_TRUE(close("grad h0", g.grad_h0, c.grad_h0, 1e-4));
    }
    // The inference forward agrees with the training forward.
    RNNOutput inf = rnn.forward(x, h0, c.lengths);
    EXPECT_TRUE(close("inference output", inf.output, c.output, 1e-5));
    EXPECT_TRUE(close("inference h_n", inf.h_n, c.h_n, 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PackedBackend, ::testing::ValuesIn(every_algorithm()),
                         [](const auto& info) { return std::string(where_name(info.param)); });

}  // namespace
}  // namespace elman::test
