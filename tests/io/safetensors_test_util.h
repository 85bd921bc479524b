// Helpers for the safetensors tests: hand-made file images, scratch directories removed on exit,
// whole-file reads and writes, and a bit-exact comparison of tensor maps.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "elman/safetensors.h"

namespace elman::test {

// Whether `text` (an error message) contains `fragment`; on failure shows both.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& fragment) {
  if (text.find(fragment) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message:  " << text << "\nexpected: ..." << fragment << "...";
}
#define EXPECT_CONTAINS(text, fragment) EXPECT_TRUE(::elman::test::contains((text), (fragment)))

// A file image: the 8-byte little-endian length of `header`, `header`, then `data`.
inline std::string image(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i, n >>= 8) out[i] = static_cast<char>(n & 0xff);
  return out + header + data;
}

// The little-endian bytes of a float32 list.
inline std::string f32_bytes(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return out;
}

inline TensorMap parse(const std::string& bytes, const std::string& what = "test image",
                       std::map<std::string, std::string>* metadata = nullptr) {
  return parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), what,
                           metadata);
}

// The message of the elman::Error `body` throws, or "<no error>" when it throws nothing.
template <typename Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "elman-io-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Names of the entries of the directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Same names, shapes and float bit patterns (so NaN payloads and -0 count).
inline void expect_bit_equal(const TensorMap& expected, const TensorMap& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (auto e = expected.begin(), a = actual.begin(); e != expected.end(); ++e, ++a) {
    ASSERT_EQ(e->first, a->first);
    EXPECT_EQ(e->second.shape, a->second.shape) << e->first;
    ASSERT_EQ(e->second.values.size(), a->second.values.size()) << e->first;
    for (size_t i = 0; i < e->second.values.size(); ++i) {
      uint32_t x, y;
      std::memcpy(&x, &e->second.values[i], 4);
      std::memcpy(&y, &a->second.values[i], 4);
      EXPECT_EQ(x, y) << e->first << "[" << i << "]: " << e->second.values[i] << " vs "
                      << a->second.values[i];
    }
  }
}

// A small model-like set of tensors: a matrix, a vector, a 0-d scalar and empty tensors.
inline TensorMap sample_tensors() {
  TensorMap t;
  t["rnn.weight_ih_l0"] = {{3, 2}, {0.5f, -1.25f, 3.0f, 1e-3f, -7.5f, 2.0f}};
  t["rnn.bias_hh_l0"] = {{3}, {0.1f, 0.2f, -0.3f}};
  t["fc.scale"] = {{}, {42.0f}};
  t["empty"] = {{0}, {}};
  t["empty3d"] = {{3, 0, 2}, {}};
  return t;
}

}  // namespace elman::test
