// The C++ side of torch_roundtrip.py: whether /usr/bin/python3 has torch, and one run of the
// script on a checkpoint with what PyTorch computed read back.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/source_path.h"

namespace elman::train_test {

inline bool torch_available() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

struct TorchRoundTrip {
  bool ran = false;
  std::vector<float> on_elman;  // PyTorch's outputs with elman's checkpoint loaded
  std::vector<float> own;       // a fresh PyTorch model's outputs
  std::string own_checkpoint;   // that model's state_dict, as safetensors
};

// Runs torch_roundtrip.py on `checkpoint`, its files in `dir` (created); a failed run is a test
// failure (ran stays false).
inline TorchRoundTrip run_torch_roundtrip(const std::string& checkpoint,
                                          const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::string cmd = "/usr/bin/python3 '" +
                          test::source_path("tests/train/torch_roundtrip.py") + "' '" + checkpoint +
                          "' '" + dir.string() + "'";
  TorchRoundTrip r;
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << cmd;
    return r;
  }
  auto read_json = [&](const char* name) {
    std::ifstream f(dir / name);
    return nlohmann::json::parse(f).get<std::vector<float>>();
  };
  r.ran = true;
  r.on_elman = read_json("torch_on_elman.json");
  r.own = read_json("torch_own.json");
  r.own_checkpoint = (dir / "torch_model.safetensors").string();
  return r;
}

}  // namespace elman::train_test
