// The safetensors reader: the checked header (safetensors_header.cpp), then the offsets against
// the real data size, then decoding to float. No CUDA, so the fuzz target builds without nvcc.
#include "elman/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "elman/error.h"
#include "host/safetensors_format.h"
#include "host/safetensors_header.h"

namespace elman {
namespace {

using Metadata = std::map<std::string, std::string>;

enum class Decode { kNone, kF16, kBF16, kF32, kF64 };

struct DtypeInfo {
  const char* name;
  uint64_t itemsize;
  Decode decode;  // kNone: a valid dtype of the format that elman does not read
};

// Every dtype of the format (the reference implementation's Dtype enum).
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 1, Decode::kNone},    {"U8", 1, Decode::kNone},      {"I8", 1, Decode::kNone},
    {"F8_E5M2", 1, Decode::kNone}, {"F8_E4M3", 1, Decode::kNone}, {"I16", 2, Decode::kNone},
    {"U16", 2, Decode::kNone},     {"F16", 2, Decode::kF16},      {"BF16", 2, Decode::kBF16},
    {"I32", 4, Decode::kNone},     {"U32", 4, Decode::kNone},     {"F32", 4, Decode::kF32},
    {"I64", 8, Decode::kNone},     {"U64", 8, Decode::kNone},     {"F64", 8, Decode::kF64}};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

std::string quote(const std::string& text) { return detail::quote_for_message(text); }

std::string dims_str(const std::vector<uint64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

// A tensor entry after validation: its place in the data section and how to decode it.
struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  Shape shape;
  uint64_t numel;
  uint64_t begin, end;  // byte offsets into the data section, end - begin == numel * itemsize
};

// Turns the parsed entries into validated ones, or throws. `data_size` is the real number of
// bytes after the header. The tensors must tile the data section exactly (the format's rule:
// no overlap, no hole, no trailing bytes).
std::vector<Entry> validate(std::vector<detail::HeaderEntry>& raw, uint64_t data_size,
                            const std::string& context) {
  auto fail = [&](const std::string& problem) { throw Error(context + ": " + problem); };
  std::vector<Entry> entries;
  entries.reserve(raw.size());
  for (detail::HeaderEntry& r : raw) {
    const std::string name = quote(r.name);
    const DtypeInfo* dtype = find_dtype(r.dtype);
    if (!dtype) fail("tensor " + name + " has the unknown dtype " + quote(r.dtype));
    if (dtype->decode == Decode::kNone)
      fail("tensor " + name + " has dtype " + dtype->name +
           ", which elman does not read (it reads F32, F64, F16 and BF16)");
    uint64_t numel = 1;
    for (uint64_t d : r.shape) {
      if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d)
        fail("tensor " + name + " has shape " + dims_str(r.shape) +
             ", whose element count overflows 64 bits");
      numel *= d;
    }
    if (numel > std::numeric_limits<uint64_t>::max() / dtype->itemsize)
      fail("tensor " + name + " has shape " + dims_str(r.shape) + " of " + dtype->name +
           ", whose byte size overflows 64 bits");
    const uint64_t bytes = numel * dtype->itemsize;
    const uint64_t begin = r.offsets[0], end = r.offsets[1];
    const std::string offsets = "data_offsets " + dims_str(r.offsets);
    if (begin > end) fail("tensor " + name + " has " + offsets + " whose end precedes the begin");
    if (end > data_size)
      fail("tensor " + name + " has " + offsets + " outside the data section of " +
           std::to_string(data_size) + " bytes");
    if (end - begin != bytes)
      fail("tensor " + name + " has shape " + dims_str(r.shape) + " of " + dtype->name +
           ", which needs " + std::to_string(bytes) + " bytes, but " + offsets + " hold " +
           std::to_string(end - begin));
    Shape shape(r.shape.begin(), r.shape.end());  // each dim <= 2^63 - 1, checked by the parser
    entries.push_back(Entry{std::move(r.name), dtype, std::move(shape), numel, begin, end});
  }
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : order) {
    if (e->begin < covered)
      fail("tensors " + quote(previous->name) + " and " + quote(e->name) +
           " overlap in the data section");
    if (e->begin > covered)
      fail("bytes [" + std::to_string(covered) + ", " + std::to_string(e->begin) +
           ") of the data section belong to no tensor");
    if (e->end > e->begin) previous = e;
    covered = e->end;
  }
  if (covered != data_size)
    fail("the data section has " + std::to_string(data_size) + " bytes but the tensors cover " +
         std::to_string(covered) + " (trailing bytes)");
  return entries;
}

uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// `entry`'s bytes (little-endian, entry.end - entry.begin of them) as floats into `out`.
void decode(const Entry& entry, const uint8_t* p, float* out) {
  for (uint64_t i = 0; i < entry.numel; ++i) {
    switch (entry.dtype->decode) {
      case Decode::kF16:
        out[i] = detail::half_to_float(static_cast<uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
        break;
      case Decode::kBF16:
        out[i] = detail::bfloat16_to_float(static_cast<uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
        break;
      case Decode::kF32: {
        const uint32_t bits = static_cast<uint32_t>(p[4 * i]) | p[4 * i + 1] << 8 |
                              p[4 * i + 2] << 16 | static_cast<uint32_t>(p[4 * i + 3]) << 24;
        std::memcpy(&out[i], &bits, sizeof(float));
        break;
      }
      case Decode::kF64: {
        const uint64_t bits = load_le64(p + 8 * i);
        double v;
        std::memcpy(&v, &bits, sizeof(double));
        out[i] = static_cast<float>(v);  // IEEE rounding; beyond float's range gives +-inf
        break;
      }
      case Decode::kNone:
        break;  // rejected by validate()
    }
  }
}

// The whole reading procedure over a source of `size` bytes. `read(offset, n)` returns a
// pointer to bytes [offset, offset + n) of the source, valid until the next call; it is only
// asked for ranges inside [0, size), and for n bytes only once n has been checked against size.
template <typename Read>
TensorMap read_safetensors(uint64_t size, Read&& read, const std::string& context,
                           Metadata* metadata) {
  auto fail = [&](const std::string& problem) { throw Error(context + ": " + problem); };
  if (size < 8)
    fail("the file has " + std::to_string(size) +
         " bytes, fewer than the 8 bytes of the header length (truncated?)");
  const uint64_t header_size = load_le64(read(0, 8));
  if (header_size > kSafetensorsMaxHeaderBytes)
    fail("the header length field says " + std::to_string(header_size) +
         " bytes, more than the bound of " + std::to_string(kSafetensorsMaxHeaderBytes) +
         " (corrupt file?)");
  if (header_size > size - 8)
    fail("the header length field says " + std::to_string(header_size) + " bytes but only " +
         std::to_string(size - 8) + " follow it (truncated?)");
  const char* header = reinterpret_cast<const char*>(read(8, static_cast<size_t>(header_size)));
  detail::Header parsed = detail::parse_safetensors_header(header, header_size, context);
  const uint64_t data_offset = 8 + header_size;
  std::vector<Entry> entries = validate(parsed.entries, size - data_offset, context);

  TensorMap result;
  for (const Entry& e : entries) {
    NamedArray& array = result[e.name];
    array.shape = e.shape;
    array.values.resize(static_cast<size_t>(e.numel));  // numel <= data bytes: checked above
    if (e.numel > 0)
      decode(e, read(data_offset + e.begin, static_cast<size_t>(e.end - e.begin)),
             array.values.data());
  }
  if (metadata) *metadata = std::move(parsed.metadata);
  return result;
}

// A file descriptor closed on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int err) { return std::generic_category().message(err); }

}  // namespace

namespace detail {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  }
  const uint32_t bits = exponent == 0x1f
                            ? sign | 0x7f800000u | (mantissa << 13)  // inf, NaN (payload kept)
                            : sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

float bfloat16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace detail

TensorMap parse_safetensors(const uint8_t* data, size_t size, const std::string& what,
                            Metadata* metadata) {
  auto read = [data](uint64_t offset, size_t) { return data + offset; };
  return read_safetensors(size, read, "parse_safetensors: " + what, metadata);
}

TensorMap load_safetensors(const std::string& path, Metadata* metadata) {
  const std::string context = "load_safetensors: '" + path + "'";
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error(context + ": cannot open: " + errno_text(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw Error(context + ": cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error(context + ": not a regular file");
  std::vector<uint8_t> buffer;  // holds one range at a time: the length, the header, a tensor
  auto read = [&](uint64_t offset, size_t n) {
    buffer.resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t got =
          ::pread(fd.get(), buffer.data() + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw Error(context + ": read failed: " + errno_text(errno));
      if (got == 0)
        throw Error(context + ": the file ended at byte " + std::to_string(offset + done) +
                    " while reading (was it changed during the load?)");
      done += static_cast<size_t>(got);
    }
    return static_cast<const uint8_t*>(buffer.data());
  };
  return read_safetensors(static_cast<uint64_t>(st.st_size), read, context, metadata);
}

}  // namespace elman
