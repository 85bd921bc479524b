// Internals of the safetensors reader and writer shared with the tests and the fuzz target:
// the file image encoder and the 16-bit float decoders.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "elman/safetensors.h"

namespace elman::detail {

// The first bytes of the file save_safetensors writes for `tensors`: the 8-byte little-endian
// header length and the JSON header padded with spaces to a multiple of 8 bytes. Checks the
// tensors (values count == numel, non-negative dims, byte size without overflow, valid UTF-8
// names, no tensor called "__metadata__"); errors start with `context`.
std::string encode_safetensors_header(const TensorMap& tensors,
                                      const std::map<std::string, std::string>& metadata,
                                      const std::string& context);

// `values` as little-endian float32 bytes, appended to `out`.
void append_f32_le(const float* values, size_t count, std::string& out);

// A whole file image (header + data) in memory: what save_safetensors writes to disk.
std::string encode_safetensors(const TensorMap& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// IEEE binary16 and bfloat16 bit patterns to float (exact: both are subsets of float).
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

}  // namespace elman::detail
