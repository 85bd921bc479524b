// Reading and writing the safetensors format (a JSON header + raw little-endian tensor data),
// the checkpoint format elman shares with PyTorch. Loads are all-or-nothing; saves are atomic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "elman/tensor.h"

namespace elman {

// One tensor of a file, on the host, always as float32 values (F64/F16/BF16 files convert).
struct NamedArray {
  Shape shape;
  std::vector<float> values;  // row-major, shape_numel(shape) of them
};

using TensorMap = std::map<std::string, NamedArray>;

// The largest JSON header a reader accepts (the format's reference implementation uses the same
// bound); a larger length field is treated as a corrupt or hostile file.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Reads every tensor of a safetensors file. Throws elman::Error naming the file and the problem
// (truncated, header too large, malformed JSON, unknown dtype, offsets outside the data, holes
// or overlaps between tensors, shape / byte-size mismatch, duplicate names, ...); nothing is
// returned on failure. F32, F64, F16 and BF16 tensors are read (converted to float, F64 rounded
// to nearest); other known dtypes (integers, bool, F8) are rejected as unsupported.
// `metadata`, if given, receives the "__metadata__" string map (only when the load succeeds).
// Memory: nothing is allocated from a size the file claims before it is checked against the
// file's real size; the peak is the returned floats plus one tensor's raw bytes.
TensorMap load_safetensors(const std::string& path,
                           std::map<std::string, std::string>* metadata = nullptr);

// Parses a safetensors image already in memory (the fuzz target's entry point); `what` names
// the source in error messages. Same checks and conversions as load_safetensors.
TensorMap parse_safetensors(const uint8_t* data, size_t size, const std::string& what,
                            std::map<std::string, std::string>* metadata = nullptr);

// Writes `tensors` as float32 (dtype "F32"), names sorted, data in name order without gaps, the
// header padded with spaces to a multiple of 8 bytes, with optional string metadata. Values are
// written as given (NaN and infinity included: refusing them is the caller's choice, see
// all_finite). Names and metadata must be valid UTF-8; "__metadata__" is not a tensor name.
// Atomic: written to `<path>.tmp-<pid>-<random>` in the same directory, every write checked,
// fsynced, then renamed over `path`, then the directory is fsynced; on any failure (full disk,
// file-size limit, read-only or missing directory) the previous file is intact, the temporary
// file is removed, and elman::Error names the path, the step and the system's reason.
// A process that exceeds RLIMIT_FSIZE is killed by SIGXFSZ unless it ignores that signal.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// True when every value of every tensor is finite (no NaN, no infinity).
bool all_finite(const TensorMap& tensors);

// The name of the first tensor (in name order) holding a NaN or an infinity; "" when none does.
std::string first_non_finite(const TensorMap& tensors);

}  // namespace elman
