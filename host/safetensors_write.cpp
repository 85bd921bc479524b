// The safetensors writer: the F32 file image (header + data) and the atomic save (temporary
// file, checked writes, fsync, rename, directory fsync), so a failed save never harms a file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <system_error>

#include "elman/error.h"
#include "elman/safetensors.h"
#include "host/safetensors_format.h"

namespace elman {
namespace {

using Json = nlohmann::json;
using Metadata = std::map<std::string, std::string>;

std::string errno_text(int err) { return std::generic_category().message(err); }

std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string dims_str(const Shape& shape) {  // shape_str's format, without linking tensor.cpp
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// A random suffix for the temporary file name; random_device may be unavailable in odd
// sandboxes, so the clock and an address stand in for it there.
uint64_t random_suffix() {
  try {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  } catch (const std::exception&) {
    static int anchor;
    return static_cast<uint64_t>(std::random_device::result_type(clock())) ^
           reinterpret_cast<uintptr_t>(&anchor);
  }
}

// A file written under a temporary name beside `path` and renamed over it by commit(). Until
// commit() succeeds, destruction (after an exception) closes and removes the temporary file.
class AtomicFile {
 public:
  AtomicFile(const std::string& path, const std::string& context) : path_(path), context_(context) {
    int err = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      char suffix[64];
      std::snprintf(suffix, sizeof(suffix), ".tmp-%ld-%016llx", static_cast<long>(::getpid()),
                    static_cast<unsigned long long>(random_suffix()));
      temp_ = path_ + suffix;
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      err = errno;
      if (err != EEXIST) break;
    }
    fail("cannot create the temporary file '" + temp_ + "'", err);
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, p, size);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) fail("cannot write '" + temp_ + "'", written < 0 ? errno : ENOSPC);
      p += written;
      size -= static_cast<size_t>(written);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail("cannot fsync '" + temp_ + "'", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close '" + temp_ + "'", errno);
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      fail("cannot rename '" + temp_ + "' over it", errno);
    committed_ = true;
    // The rename is durable only once the directory is on disk. Filesystems that cannot fsync
    // a directory say EINVAL; that is not a failure of this save.
    const std::string dir = parent_directory(path_);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
      throw Error(context_ + ": written, but cannot open the directory '" + dir +
                  "' to fsync it: " + errno_text(errno));
    const int synced = ::fsync(dir_fd);
    const int err = errno;
    ::close(dir_fd);
    if (synced != 0 && err != EINVAL)
      throw Error(context_ + ": written, but cannot fsync the directory '" + dir +
                  "': " + errno_text(err));
  }

 private:
  [[noreturn]] void fail(const std::string& step, int err) const {
    throw Error(context_ + ": " + step + ": " + errno_text(err) +
                " (the previous file, if any, is unchanged)");
  }

  std::string path_, context_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

namespace detail {

std::string encode_safetensors_header(const TensorMap& tensors, const Metadata& metadata,
                                      const std::string& context) {
  Json header = Json::object();
  uint64_t offset = 0;
  for (const auto& [name, array] : tensors) {
    if (name == "__metadata__")
      throw Error(context + ": \"__metadata__\" is reserved by the format, not a tensor name");
    uint64_t numel = 1;
    for (int64_t d : array.shape) {
      if (d < 0)
        throw Error(context + ": tensor '" + name + "' has the negative dimension " +
                    std::to_string(d));
      if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))
        throw Error(context + ": tensor '" + name + "' has a shape whose size overflows");
      numel *= static_cast<uint64_t>(d);
    }
    if (array.values.size() != numel)
      throw Error(context + ": tensor '" + name + "' has shape " + dims_str(array.shape) + " (" +
                  std::to_string(numel) + " values) but holds " +
                  std::to_string(array.values.size()) + " values");
    const uint64_t bytes = numel * sizeof(float);  // values exist in memory: no overflow
    header[name] = {
        {"dtype", "F32"}, {"shape", array.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception&) {
    throw Error(context + ": a tensor name or a metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data then starts 8-byte aligned
  std::string out(8, '\0');
  uint64_t length = text.size();
  for (int i = 0; i < 8; ++i, length >>= 8) out[i] = static_cast<char>(length & 0xff);
  return out + text;
}

void append_f32_le(const float* values, size_t count, std::string& out) {
  const size_t start = out.size();
  out.resize(start + 4 * count);
  char* p = &out[start];
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof(bits));
    for (int b = 0; b < 4; ++b) *p++ = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
}

std::string encode_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  std::string out = encode_safetensors_header(tensors, metadata, "encode_safetensors");
  for (const auto& entry : tensors)
    append_f32_le(entry.second.values.data(), entry.second.values.size(), out);
  return out;
}

}  // namespace detail

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  const std::string context = "save_safetensors: '" + path + "'";
  const std::string header = detail::encode_safetensors_header(tensors, metadata, context);
  AtomicFile file(path, context);
  file.write(header.data(), header.size());
  constexpr size_t kChunk = 1 << 16;  // floats per write: bounded extra memory for any model
  std::string chunk;
  for (const auto& entry : tensors) {
    const std::vector<float>& values = entry.second.values;
    for (size_t i = 0; i < values.size(); i += kChunk) {
      chunk.clear();
      detail::append_f32_le(values.data() + i, std::min(kChunk, values.size() - i), chunk);
      file.write(chunk.data(), chunk.size());
    }
  }
  file.commit();
}

std::string first_non_finite(const TensorMap& tensors) {
  for (const auto& [name, array] : tensors)
    for (float v : array.values)
      if (!std::isfinite(v)) return name;
  return "";
}

bool all_finite(const TensorMap& tensors) {
  for (const auto& entry : tensors)
    for (float v : entry.second.values)
      if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace elman
