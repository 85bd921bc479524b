// The safetensors writer: round trips (scalars, empty tensors, special values, metadata), the
// file layout, refused inputs, and atomic saves under a file-size limit and missing directories.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "elman/error.h"
#include "host/safetensors_format.h"
#include "tests/io/safetensors_test_util.h"

namespace elman::test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

float nan_with_payload(uint32_t payload) {
  const uint32_t bits = 0x7fc00000u | payload;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST(SafetensorsWrite, RoundTripIsBitExact) {
  ScratchDir dir;
  TensorMap tensors = sample_tensors();
  tensors["special"] = {
      {2, 3},
      {-0.0f, kInf, -kInf, nan_with_payload(0x1234), std::numeric_limits<float>::denorm_min(),
       std::numeric_limits<float>::max()}};
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"epoch", "3"}, {"note", "quotes \" and \\ and \xc3\xa9"}};
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, tensors, metadata);
  std::map<std::string, std::string> read_metadata;
  expect_bit_equal(tensors, load_safetensors(path, &read_metadata));
  EXPECT_EQ(read_metadata, metadata);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"}) << "no temp file left";
}

TEST(SafetensorsWrite, EmptyMapAndNoMetadata) {
  ScratchDir dir;
  save_safetensors(dir.file("e.safetensors"), {});
  std::map<std::string, std::string> metadata = {{"stale", "x"}};
  EXPECT_TRUE(load_safetensors(dir.file("e.safetensors"), &metadata).empty());
  EXPECT_TRUE(metadata.empty());
  EXPECT_EQ(read_file(dir.file("e.safetensors")), image("{}      "));
}

TEST(SafetensorsWrite, FileLayoutFollowsTheFormat) {
  ScratchDir dir;
  const std::string path = dir.file("layout.safetensors");
  save_safetensors(path, sample_tensors());
  const std::string bytes = read_file(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8 bytes";
  ASSERT_LE(8 + n, bytes.size());
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));  // spaces allowed
  EXPECT_FALSE(header.contains("__metadata__")) << "no metadata given, none written";
  // Data in name order, without gaps; every tensor F32.
  uint64_t offset = 0;
  for (const auto& [name, array] : sample_tensors()) {
    ASSERT_TRUE(header.contains(name)) << name;
    const nlohmann::json& e = header.at(name);
    EXPECT_EQ(e.at("dtype"), "F32");
    EXPECT_EQ(e.at("shape").get<Shape>(), array.shape);
    const uint64_t end = offset + 4 * array.values.size();
    EXPECT_EQ(e.at("data_offsets").get<std::vector<uint64_t>>(),
              (std::vector<uint64_t>{offset, end}))
        << name;
    EXPECT_EQ(bytes.substr(8 + n + offset, end - offset), f32_bytes(array.values)) << name;
    offset = end;
  }
  EXPECT_EQ(8 + n + offset, bytes.size());
}

TEST(SafetensorsWrite, RefusesInconsistentTensorsWithoutCreatingAFile) {
  ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  EXPECT_CONTAINS(error_of([&] {
                    save_safetensors(path, {{"w", {{2, 2}, {1, 2, 3}}}});
                  }),
                  "save_safetensors: '" + path +
                      "': tensor 'w' has shape [2, 2] (4 values) but holds 3 values");
  EXPECT_CONTAINS(error_of([&] {
                    save_safetensors(path, {{"w", {{-1}, {}}}});
                  }),
                  "tensor 'w' has the negative dimension -1");
  EXPECT_CONTAINS(error_of([&] {
                    save_safetensors(path, {{"__metadata__", {{}, {1}}}});
                  }),
                  "\"__metadata__\" is reserved");
  EXPECT_CONTAINS(error_of([&] {
                    save_safetensors(path, {{"\xff", {{}, {1}}}});
                  }),
                  "not valid UTF-8");
  EXPECT_CONTAINS(error_of([&] {
                    save_safetensors(path, {}, {{"k", "\xc3"}});
                  }),
                  "not valid UTF-8");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SafetensorsWrite, OverwritesAnExistingFile) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, sample_tensors());
  const TensorMap second = {{"only", {{2}, {7, 8}}}};
  save_safetensors(path, second, {{"epoch", "2"}});
  std::map<std::string, std::string> metadata;
  expect_bit_equal(second, load_safetensors(path, &metadata));
  EXPECT_EQ(metadata.at("epoch"), "2");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST(SafetensorsWrite, MissingDirectoryIsAClearError) {
  ScratchDir dir;
  const std::string path = dir.file("no/such/dir/ckpt.safetensors");
  const std::string message = error_of([&] { save_safetensors(path, sample_tensors()); });
  EXPECT_CONTAINS(message, "save_safetensors: '" + path + "': cannot create the temporary file");
  EXPECT_CONTAINS(message, "No such file or directory");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SafetensorsWrite, TargetThatIsADirectoryFailsAtRenameAndLeavesNoTempFile) {
  ScratchDir dir;
  const std::string target = dir.file("occupied");
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  ::close(::open((target + "/keep").c_str(), O_WRONLY | O_CREAT, 0644));
  const std::string message = error_of([&] { save_safetensors(target, sample_tensors()); });
  EXPECT_CONTAINS(message, "cannot rename");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"occupied"}) << "temp file removed";
}

// Overwrites `path` (a valid checkpoint) with a bigger one in a child process whose file size
// limit is below the new file's size. Returns the child's status: 0 when the save threw an
// elman::Error naming the path and "File too large", 1 when it succeeded, 2 otherwise.
int save_under_file_size_limit(const std::string& path, rlim_t limit) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process instead of failing write()
    const struct rlimit rl = {limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(3);
    TensorMap big;
    big["w"] = {{4096}, std::vector<float>(4096, 1.5f)};  // 16 KiB of data, above the limit
    try {
      save_safetensors(path, big);
    } catch (const Error& e) {
      const std::string m = e.what();
      ::_exit(m.find(path) != std::string::npos && m.find("File too large") != std::string::npos
                  ? 0
                  : 2);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(SafetensorsWrite, FullDiskLeavesThePreviousCheckpointIntact) {
  // A file-size limit (RLIMIT_FSIZE) makes write() fail with EFBIG part-way through, as a full
  // disk fails with ENOSPC; unlike a read-only directory it also binds root.
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, sample_tensors(), {{"epoch", "1"}});
  const std::string before = read_file(path);
  for (rlim_t limit : {rlim_t{0}, rlim_t{8}, rlim_t{100}, rlim_t{4096}, rlim_t{16000}}) {
    EXPECT_EQ(save_under_file_size_limit(path, limit), 0) << "limit " << limit;
    EXPECT_EQ(read_file(path), before) << "the previous checkpoint changed (limit " << limit << ")";
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"})
        << "the temporary file was not removed (limit " << limit << ")";
  }
  std::map<std::string, std::string> metadata;
  expect_bit_equal(sample_tensors(), load_safetensors(path, &metadata));
  EXPECT_EQ(metadata.at("epoch"), "1");
}

TEST(SafetensorsWrite, ReadOnlyDirectoryLeavesThePreviousCheckpointIntact) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, sample_tensors());
  const std::string before = read_file(path);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  if (::access(dir.path().c_str(), W_OK) == 0) {
    ::chmod(dir.path().c_str(), 0755);
    GTEST_SKIP() << "this user (root?) can write to a read-only directory; the file-size-limit "
                    "test covers the failed save instead";
  }
  const std::string message = error_of([&] { save_safetensors(path, {{"x", {{}, {1}}}}); });
  ::chmod(dir.path().c_str(), 0755);
  EXPECT_CONTAINS(message, "Permission denied");
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST(SafetensorsWrite, FiniteChecks) {
  TensorMap t = sample_tensors();
  EXPECT_TRUE(all_finite(t));
  EXPECT_EQ(first_non_finite(t), "");
  t["rnn.bias_hh_l0"].values[1] = std::numeric_limits<float>::quiet_NaN();
  t["z"] = {{1}, {kInf}};
  EXPECT_FALSE(all_finite(t));
  EXPECT_EQ(first_non_finite(t), "rnn.bias_hh_l0");
  EXPECT_TRUE(all_finite({}));
}

}  // namespace
}  // namespace elman::test
