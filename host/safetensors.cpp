// The safetensors reader: a streaming (SAX) parse of the JSON header that checks every field as
// it arrives, then the offsets against the real data size, then decoding to float. No CUDA.
#include "elman/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "elman/error.h"
#include "host/safetensors_format.h"

namespace elman {
namespace {

using Json = nlohmann::json;
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

// Text from the file made safe for an error message: at most `limit` bytes, bytes outside
// printable ASCII (and `quote_char`) escaped, so a hostile header cannot flood or garble the
// message.
std::string escape(const std::string& text, size_t limit, char quote_char = '\\') {
  std::string out;
  const size_t shown = std::min(text.size(), limit);
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != quote_char) {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (shown < text.size()) out += "...";
  return out;
}

std::string quote(const std::string& text) { return "'" + escape(text, 80, '\'') + "'"; }

std::string dims_str(const std::vector<uint64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

// One tensor entry of the header as parsed: fields checked for type, not yet for meaning.
struct RawEntry {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::vector<uint64_t> offsets;
  bool has_dtype = false, has_shape = false, has_offsets = false;
};

// The header's JSON, checked event by event: the top level must be an object whose values are
// tensor entries ({"dtype": string, "shape": [uint...], "data_offsets": [uint, uint]}, other
// fields ignored as the reference implementation does) or "__metadata__" ({string: string}).
// Duplicate names, fields or metadata keys are errors. Nesting is only tracked by a counter
// inside ignored fields, so hostile input costs memory linear in its size and no recursion.
class HeaderParser final : public nlohmann::json_sax<Json> {
 public:
  std::vector<RawEntry> entries;
  Metadata metadata;
  std::string error;  // set when a callback returns false

  bool null() override { return unexpected("null"); }
  bool boolean(bool) override { return unexpected("a boolean"); }
  bool binary(binary_t&) override { return unexpected("binary data"); }

  bool number_integer(number_integer_t value) override {  // only negative values arrive here
    if (state_ == State::kArray)
      return fail(array_name() + " holds the negative number " + std::to_string(value));
    return unexpected("a number");
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (state_ != State::kArray) return unexpected("a number");
    if (field_ == Field::kShape &&
        value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(array_name() + " holds the dimension " + std::to_string(value) +
                  ", larger than 2^63 - 1");
    array_->push_back(value);
    return true;
  }
  bool number_float(number_float_t, const string_t& text) override {
    if (state_ == State::kArray)
      return fail(array_name() + " holds " + quote(text) + ", not a non-negative integer");
    return unexpected("a number");
  }
  bool string(string_t& value) override {
    if (state_ == State::kEntry && field_ == Field::kDtype) {
      entries.back().dtype = value;
      return true;
    }
    if (state_ == State::kMetadata) {
      metadata.emplace(metadata_key_, value);
      return true;
    }
    return unexpected("a string");
  }

  bool start_object(std::size_t) override {
    switch (state_) {
      case State::kStart:
        state_ = State::kRoot;
        return true;
      case State::kRoot:
        if (root_key_ == "__metadata__") {
          state_ = State::kMetadata;
        } else {
          entries.emplace_back();
          entries.back().name = root_key_;
          state_ = State::kEntry;
        }
        return true;
      case State::kEntry:
        if (field_ == Field::kOther) return start_skip();
        break;
      case State::kSkip:
        ++skip_depth_;
        return true;
      default:
        break;
    }
    return unexpected("an object");
  }
  bool end_object() override {
    switch (state_) {
      case State::kRoot:
        state_ = State::kDone;
        return true;
      case State::kEntry: {
        const RawEntry& e = entries.back();
        const char* missing = !e.has_dtype     ? "dtype"
                              : !e.has_shape   ? "shape"
                              : !e.has_offsets ? "data_offsets"
                                               : nullptr;
        if (missing) return fail("tensor " + quote(e.name) + " has no \"" + missing + "\"");
        state_ = State::kRoot;
        return true;
      }
      case State::kMetadata:
        state_ = State::kRoot;
        return true;
      case State::kSkip:
        return end_skip();
      default:
        return fail("unbalanced JSON object");  // the parser never lets this happen
    }
  }
  bool key(string_t& name) override {
    switch (state_) {
      case State::kRoot:
        if (!root_keys_.insert(name).second)
          return fail("the name " + quote(name) + " appears twice in the header");
        root_key_ = name;
        return true;
      case State::kEntry: {
        RawEntry& e = entries.back();
        bool* seen = name == "dtype"          ? &e.has_dtype
                     : name == "shape"        ? &e.has_shape
                     : name == "data_offsets" ? &e.has_offsets
                                              : nullptr;
        field_ = name == "dtype"          ? Field::kDtype
                 : name == "shape"        ? Field::kShape
                 : name == "data_offsets" ? Field::kOffsets
                                          : Field::kOther;
        if (seen && *seen) return fail("tensor " + quote(e.name) + " has \"" + name + "\" twice");
        if (seen) *seen = true;
        return true;
      }
      case State::kMetadata:
        if (metadata.count(name)) return fail("metadata key " + quote(name) + " appears twice");
        metadata_key_ = name;
        return true;
      default:
        return true;  // keys inside ignored fields
    }
  }
  bool start_array(std::size_t) override {
    if (state_ == State::kSkip) {
      ++skip_depth_;
      return true;
    }
    if (state_ == State::kEntry) {
      if (field_ == Field::kOther) return start_skip();
      if (field_ == Field::kShape || field_ == Field::kOffsets) {
        array_ = field_ == Field::kShape ? &entries.back().shape : &entries.back().offsets;
        state_ = State::kArray;
        return true;
      }
    }
    return unexpected("an array");
  }
  bool end_array() override {
    if (state_ == State::kSkip) return end_skip();
    if (state_ != State::kArray) return fail("unbalanced JSON array");  // cannot happen
    if (field_ == Field::kOffsets && array_->size() != 2)
      return fail(array_name() + " has " + std::to_string(array_->size()) +
                  " numbers, expected 2 (begin, end)");
    state_ = State::kEntry;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    const size_t bracket = what.find("] ");  // drop nlohmann's "[json.exception...] " tag
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return fail("the header is not valid JSON (at byte " + std::to_string(position) +
                "): " + escape(what, 200));
  }

 private:
  enum class State { kStart, kRoot, kEntry, kArray, kMetadata, kSkip, kDone };
  enum class Field { kDtype, kShape, kOffsets, kOther };

  bool fail(std::string message) {
    error = std::move(message);
    return false;
  }
  std::string array_name() const {
    return std::string(field_ == Field::kShape ? "shape" : "data_offsets") + " of tensor " +
           quote(entries.back().name);
  }
  bool start_skip() {
    state_ = State::kSkip;
    skip_depth_ = 1;
    return true;
  }
  bool end_skip() {
    if (--skip_depth_ == 0) state_ = State::kEntry;
    return true;
  }
  // A value of the wrong kind for where it stands (or a scalar in an ignored field: accepted).
  bool unexpected(const std::string& kind) {
    switch (state_) {
      case State::kStart:
        return fail("the header is " + kind + ", expected a JSON object");
      case State::kRoot:
        if (root_key_ == "__metadata__")
          return fail("\"__metadata__\" is " + kind + ", expected an object of strings");
        return fail("entry " + quote(root_key_) + " is " + kind +
                    ", expected an object with dtype, shape and data_offsets");
      case State::kEntry:
        switch (field_) {
          case Field::kDtype:
            return fail("dtype of tensor " + quote(entries.back().name) + " is " + kind +
                        ", expected a string");
          case Field::kShape:
            return fail("shape of tensor " + quote(entries.back().name) + " is " + kind +
                        ", expected an array of non-negative integers");
          case Field::kOffsets:
            return fail("data_offsets of tensor " + quote(entries.back().name) + " is " + kind +
                        ", expected an array of two non-negative integers");
          case Field::kOther:
            return true;
        }
        return true;
      case State::kArray:
        return fail(array_name() + " holds " + kind + ", expected non-negative integers");
      case State::kMetadata:
        return fail("metadata value of key " + quote(metadata_key_) + " is " + kind +
                    ", expected a string");
      case State::kSkip:
        return true;
      case State::kDone:
        break;
    }
    return fail("a value after the end of the header object");  // strict parsing prevents it
  }

  State state_ = State::kStart;
  Field field_ = Field::kOther;
  std::string root_key_;
  std::string metadata_key_;
  std::set<std::string> root_keys_;
  std::vector<uint64_t>* array_ = nullptr;
  size_t skip_depth_ = 0;
};

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
std::vector<Entry> validate(std::vector<RawEntry>& raw, uint64_t data_size,
                            const std::string& context) {
  auto fail = [&](const std::string& problem) { throw Error(context + ": " + problem); };
  std::vector<Entry> entries;
  entries.reserve(raw.size());
  for (RawEntry& r : raw) {
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
  HeaderParser parser;
  bool parsed = false;
  try {
    parsed = Json::sax_parse(header, header + header_size, &parser, Json::input_format_t::json,
                             /*strict=*/true);
  } catch (const Json::exception& ex) {
    fail(std::string("the header cannot be parsed: ") + ex.what());
  }
  if (!parsed) fail(parser.error.empty() ? "the header cannot be parsed" : parser.error);
  const uint64_t data_offset = 8 + header_size;
  std::vector<Entry> entries = validate(parser.entries, size - data_offset, context);

  TensorMap result;
  for (const Entry& e : entries) {
    NamedArray& array = result[e.name];
    array.shape = e.shape;
    array.values.resize(static_cast<size_t>(e.numel));  // numel <= data bytes: checked above
    if (e.numel > 0)
      decode(e, read(data_offset + e.begin, static_cast<size_t>(e.end - e.begin)),
             array.values.data());
  }
  if (metadata) *metadata = std::move(parser.metadata);
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
