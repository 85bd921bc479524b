// The safetensors JSON header, parsed and checked field by field (streaming, no recursion) into
// raw tensor entries and metadata: the first stage of the reader, and its hostile-input surface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace elman::detail {

// One tensor entry of the header as parsed: fields checked for type, not yet for meaning.
struct HeaderEntry {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;    // each <= 2^63 - 1
  std::vector<uint64_t> offsets;  // exactly two: begin, end
};

struct Header {
  std::vector<HeaderEntry> entries;  // in file order
  std::map<std::string, std::string> metadata;
};

// Parses `size` bytes of JSON. The top level must be an object whose values are tensor entries
// ({"dtype": string, "shape": [uint...], "data_offsets": [uint, uint]}; other fields ignored, as
// the reference implementation does) or "__metadata__" ({string: string}). Duplicate names,
// fields or metadata keys are errors. Throws elman::Error("<context>: <problem>").
Header parse_safetensors_header(const char* text, size_t size, const std::string& context);

// Text from a file made safe for an error message: at most `limit` bytes, bytes outside
// printable ASCII (and backslash and `quote_char`) escaped as \xNN, so a hostile header cannot
// flood or garble the message.
std::string escape_for_message(const std::string& text, size_t limit, char quote_char = '\\');

// `text` escaped (at most 80 bytes) and in single quotes: how messages show names from a file.
std::string quote_for_message(const std::string& text);

}  // namespace elman::detail
