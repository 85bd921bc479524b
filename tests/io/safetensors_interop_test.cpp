// safetensors files exchanged with Python: numpy writes a file by hand (every dtype elman reads)
// that elman loads, and elman writes one that numpy checks. Skips, visibly, without numpy.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>

#include "elman/error.h"
#include "tests/io/safetensors_test_util.h"
#include "tests/source_path.h"

namespace elman::test {
namespace {

const std::string kScript = source_path("tests/io/safetensors_interop.py");

// A Python with numpy: $ELMAN_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH.
std::string python_with_numpy() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("ELMAN_PYTHON")) candidates.push_back(env);
  candidates.push_back("/usr/bin/python3");
  candidates.push_back("python3");
  for (const std::string& py : candidates)
    if (std::system(("'" + py + "' -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

int run_script(const std::string& python, const std::string& mode, const std::string& path) {
  const int status =
      std::system(("'" + python + "' '" + kScript + "' " + mode + " '" + path + "'").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SafetensorsInterop, ElmanReadsWhatNumpyWrites) {
  const std::string python = python_with_numpy();
  if (python.empty())
    GTEST_SKIP() << "no python3 with numpy (Debian: apt-get install python3-numpy)";
  ScratchDir dir;
  const std::string path = dir.file("from_numpy.safetensors");
  ASSERT_EQ(run_script(python, "write", path), 0);
  std::map<std::string, std::string> metadata;
  const TensorMap t = load_safetensors(path, &metadata);
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"writer", "numpy"}}));
  ASSERT_EQ(t.size(), 6u);
  // The script's values (safetensors_interop.py), each exact in its dtype and in float except
  // F64's, which are the float nearest to the double.
  EXPECT_EQ(t.at("w.f32").shape, (Shape{2, 3}));
  EXPECT_EQ(t.at("w.f32").values, (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1.5f}));
  EXPECT_EQ(t.at("w.f64").shape, Shape{3});
  EXPECT_EQ(t.at("w.f64").values, (std::vector<float>{0.1f, -2.5f, 1e-3f}));
  EXPECT_EQ(t.at("w.f16").values, (std::vector<float>{1, -2, 0.5f, 65504}));
  EXPECT_EQ(t.at("w.bf16").shape, (Shape{2, 2}));
  EXPECT_EQ(t.at("w.bf16").values, (std::vector<float>{1, -5, 3.140625f, 0.15625f}));
  EXPECT_EQ(t.at("scalar").shape, Shape{});
  EXPECT_EQ(t.at("scalar").values, std::vector<float>{3.25f});
  EXPECT_EQ(t.at("empty").shape, (Shape{0, 3}));
  EXPECT_TRUE(t.at("empty").values.empty());
}

TEST(SafetensorsInterop, NumpyReadsWhatElmanWrites) {
  const std::string python = python_with_numpy();
  if (python.empty())
    GTEST_SKIP() << "no python3 with numpy (Debian: apt-get install python3-numpy)";
  ScratchDir dir;
  const std::string path = dir.file("from_elman.safetensors");
  // The same values as ELMAN_EXPECTED in safetensors_interop.py.
  const TensorMap t = {
      {"rnn.weight_ih_l0", {{3, 2}, {0.25f, -0.5f, 1.0f, 2.0f, -3.0f, 1e-7f}}},
      {"rnn.bias_ih_l0", {{3}, {0.1f, 0.2f, 0.3f}}},
      {"fc.step", {{}, {42.0f}}},
      {"empty", {{0, 4}, {}}},
  };
  save_safetensors(path, t, {{"format", "pt"}, {"writer", "elman"}});
  EXPECT_EQ(run_script(python, "check", path), 0) << "see the script's messages above";
}

}  // namespace
}  // namespace elman::test
