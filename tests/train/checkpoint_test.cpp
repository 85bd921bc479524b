// Checkpoints: elman -> file -> elman is exact; corrupt, truncated and mismatched files are
// rejected with a clear error and leave the model unchanged; and, where /usr/bin/python3 has
// torch, the round trip with the tutorial's RNNPyTorch module both ways.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/source_path.h"
#include "tests/train/torch_roundtrip.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

namespace fs = std::filesystem;

using train_test::Model;

// RNNPyTorch.forward: fc(rnn(x)[:, -1, :]) on the fixed input of torch_roundtrip.py.
std::vector<float> forward_fixed(Model& m) {
  const int64_t I = m.rnn.options().input_size, H = m.rnn.options().hidden_size;
  std::vector<float> x;
  for (int64_t k = 0; k < 2 * 5 * I; ++k) x.push_back(static_cast<float>((k % 7) - 3) * 0.25f);
  const Tensor out = m.rnn.forward(Tensor::from_vector({2, 5, I}, x)).output;  // [2, 5, H]
  std::vector<float> last;
  const auto o = out.to_vector();
  for (int64_t b = 0; b < 2; ++b)
    last.insert(last.end(), o.begin() + (b * 5 + 4) * H, o.begin() + (b * 5 + 5) * H);
  return m.fc.forward(Tensor::from_vector({2, H}, last)).to_vector();
}

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / "elman_checkpoint_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

TEST(Checkpoint, RoundTripIsExact) {
  Model a(3, 5, 2, 1), b(3, 5, 2, 2);
  ASSERT_NE(a.params(), b.params());
  const std::string path = temp_path("round.safetensors");
  save_checkpoint(path, a.rnn, a.fc, {{"scenario", "test"}, {"hidden_size", "5"}});
  std::map<std::string, std::string> meta;
  load_checkpoint(path, b.rnn, b.fc, &meta);
  EXPECT_EQ(a.params(), b.params());  // bit-exact: float32 written and read as is
  EXPECT_EQ(meta.at("scenario"), "test");
  EXPECT_EQ(read_checkpoint_metadata(path).at("hidden_size"), "5");
  const TensorMap t = load_safetensors(path);
  for (const char* name : {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                           "rnn.bias_hh_l0", "fc.weight", "fc.bias"})
    EXPECT_EQ(t.count(name), 1u) << name;
  EXPECT_EQ(t.size(), 6u);
  EXPECT_EQ(t.at("fc.weight").shape, (Shape{2, 5}));
}

// Expects load_checkpoint(path) to throw an error whose message contains `needle`, and the model
// to keep its parameters.
void expect_rejected(const std::string& path, const std::string& needle) {
  Model m(3, 5, 2, 7);
  const auto before = m.params();
  try {
    load_checkpoint(path, m.rnn, m.fc);
    ADD_FAILURE() << "loaded " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "no file name: " << e.what();
  }
  EXPECT_EQ(m.params(), before) << "a failed load changed the model";
}

std::string good_file() {
  Model a(3, 5, 2, 1);
  const std::string path = temp_path("good.safetensors");
  save_checkpoint(path, a.rnn, a.fc);
  return path;
}

std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

TEST(Checkpoint, TruncatedFileIsRejected) {
  const std::string bytes = bytes_of(good_file());
  const std::string path = temp_path("truncated.safetensors");
  write_bytes(path, bytes.substr(0, bytes.size() - 10));
  expect_rejected(path, "");
  write_bytes(path, bytes.substr(0, 5));  // not even the header length
  expect_rejected(path, "");
}

TEST(Checkpoint, CorruptHeaderIsRejected) {
  std::string bytes = bytes_of(good_file());
  for (size_t i = 9; i < 30; ++i) bytes[i] = '#';  // garbage inside the JSON header
  const std::string path = temp_path("corrupt.safetensors");
  write_bytes(path, bytes);
  expect_rejected(path, "");
}

TEST(Checkpoint, MissingFileIsRejected) { expect_rejected(temp_path("nope.safetensors"), ""); }

TEST(Checkpoint, MismatchedModelIsRejected) {
  Model other(3, 4, 2, 1);  // hidden 4 instead of 5
  const std::string path = temp_path("other.safetensors");
  save_checkpoint(path, other.rnn, other.fc);
  expect_rejected(path, "has shape [2, 4], the model expects [2, 5]");
}

TEST(Checkpoint, MissingOrExtraTensorIsRejected) {
  TensorMap t = load_safetensors(good_file());
  t.erase("fc.bias");
  const std::string path = temp_path("missing.safetensors");
  save_safetensors(path, t);
  expect_rejected(path, "missing fc.bias");
  t = load_safetensors(good_file());
  t["fc.extra"] = NamedArray{{1}, {0.0f}};
  save_safetensors(path, t);
  expect_rejected(path, "unexpected fc.extra");
}

TEST(Checkpoint, NonFiniteValueIsRejected) {
  TensorMap t = load_safetensors(good_file());
  t["rnn.weight_hh_l0"].values[3] = NAN;
  const std::string path = temp_path("nan.safetensors");
  save_safetensors(path, t);
  expect_rejected(path, "non-finite value at index 3");
}

TEST(Checkpoint, PyTorchRoundTripBothWays) {
  if (!train_test::torch_available())
    GTEST_SKIP() << "/usr/bin/python3 has no torch (apt-get install python3-torch): the "
                    "PyTorch round trip is not checked";
  Model a(3, 6, 2, 11);
  const fs::path dir = fs::path(temp_path("torch"));
  fs::create_directories(dir);
  const std::string ckpt = (dir / "elman.safetensors").string();
  save_checkpoint(ckpt, a.rnn, a.fc);
  const train_test::TorchRoundTrip torch = train_test::run_torch_roundtrip(ckpt, dir);
  ASSERT_TRUE(torch.ran);
  // 1. PyTorch loaded elman's file: same outputs as elman's own forward.
  const auto mine = forward_fixed(a);
  ASSERT_EQ(mine.size(), torch.on_elman.size());
  for (size_t i = 0; i < mine.size(); ++i)
    EXPECT_NEAR(mine[i], torch.on_elman[i], 1e-5) << i;  // float32 both sides, O(1) values
  // 2. elman loads PyTorch's file: the same outputs as PyTorch computed.
  Model b(3, 6, 2, 99);
  load_checkpoint(torch.own_checkpoint, b.rnn, b.fc);
  const auto got = forward_fixed(b);
  ASSERT_EQ(got.size(), torch.own.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], torch.own[i], 1e-5) << i;
}

}  // namespace
}  // namespace elman
