// The exchange with a Python peer (bench/pytorch_cpu.py, bench/pytorch_train.py): a temporary
// folder, raw float32 files both sides read, and a script run on a request whose stdout is JSON.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace elman::bench {

// A temporary directory (elman-bench-XXXXXX in the system's), removed on every exit path.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Raw native-endian float32, no header. read_floats throws elman::Error unless the file holds
// exactly n values.
void write_floats(const std::filesystem::path& p, const std::vector<float>& v);
std::vector<float> read_floats(const std::filesystem::path& p, size_t n);

// Runs `python script request` and returns its stdout parsed as JSON. Returns null JSON and sets
// *why when the peer cannot answer: Python not found, the script's own {"error": ...} (exit
// status 3 for a missing torch), another failure, or output that is not JSON.
nlohmann::json ask_python(const std::string& python, const std::string& script,
                          const std::filesystem::path& request, std::string* why);

}  // namespace elman::bench
