// The safetensors JSON header parser: nlohmann's SAX events checked one by one against the
// format, so a hostile header is rejected early with a precise message and no recursion.
#include "host/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "elman/error.h"

namespace elman::detail {
namespace {

using Json = nlohmann::json;
using Metadata = std::map<std::string, std::string>;

std::string quote(const std::string& text) { return quote_for_message(text); }

// The header's JSON, checked event by event as parse_safetensors_header describes. Nesting is
// only tracked by a counter inside ignored fields, so hostile input costs memory linear in its
// size and no recursion (nlohmann's parser itself keeps its nesting on a heap stack).
class HeaderParser final : public nlohmann::json_sax<Json> {
 public:
  std::vector<HeaderEntry> entries;
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
          has_dtype_ = has_shape_ = has_offsets_ = false;
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
        const char* missing = !has_dtype_     ? "dtype"
                              : !has_shape_   ? "shape"
                              : !has_offsets_ ? "data_offsets"
                                              : nullptr;
        if (missing)
          return fail("tensor " + quote(entries.back().name) + " has no \"" + missing + "\"");
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
        bool* seen = name == "dtype"          ? &has_dtype_
                     : name == "shape"        ? &has_shape_
                     : name == "data_offsets" ? &has_offsets_
                                              : nullptr;
        field_ = name == "dtype"          ? Field::kDtype
                 : name == "shape"        ? Field::kShape
                 : name == "data_offsets" ? Field::kOffsets
                                          : Field::kOther;
        if (seen && *seen)
          return fail("tensor " + quote(entries.back().name) + " has \"" + name + "\" twice");
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
                "): " + escape_for_message(what, 200));
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
  bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;  // of entries.back()
};

}  // namespace

std::string escape_for_message(const std::string& text, size_t limit, char quote_char) {
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

std::string quote_for_message(const std::string& text) {
  return "'" + escape_for_message(text, 80, '\'') + "'";
}

Header parse_safetensors_header(const char* text, size_t size, const std::string& context) {
  HeaderParser parser;
  bool parsed = false;
  try {
    parsed = Json::sax_parse(text, text + size, &parser, Json::input_format_t::json,
                             /*strict=*/true);
  } catch (const Json::exception& ex) {  // not expected with a SAX handler; kept as a safety net
    throw Error(context + ": the header cannot be parsed: " + escape_for_message(ex.what(), 200));
  }
  if (!parsed)
    throw Error(context + ": " +
                (parser.error.empty() ? "the header cannot be parsed" : parser.error));
  return Header{std::move(parser.entries), std::move(parser.metadata)};
}

}  // namespace elman::detail
