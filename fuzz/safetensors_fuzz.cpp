// libFuzzer target for the safetensors reader: any input must either be rejected with
// elman::Error or parse to a self-consistent result that survives a write/read round trip.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "elman/error.h"
#include "elman/safetensors.h"
#include "host/safetensors_format.h"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "safetensors_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// Every tensor holds exactly numel(shape) values and has no negative dimension.
void check_consistent(const elman::TensorMap& tensors) {
  for (const auto& entry : tensors) {
    uint64_t numel = 1;
    for (int64_t d : entry.second.shape) {
      if (d < 0) finding("negative dimension");
      numel *= static_cast<uint64_t>(d);  // cannot overflow: the parser checked it
    }
    if (entry.second.values.size() != numel) finding("values count differs from the shape");
  }
}

bool same(const elman::TensorMap& a, const elman::TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    if (i->first != j->first || i->second.shape != j->second.shape) return false;
    const auto& x = i->second.values;
    const auto& y = j->second.values;
    if (x.size() != y.size()) return false;
    // Bit patterns, so NaN payloads count too.
    if (!x.empty() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> metadata;
  elman::TensorMap tensors;
  try {
    tensors = elman::parse_safetensors(data, size, "fuzz input", &metadata);
  } catch (const elman::Error&) {
    return 0;  // rejected with a message: the expected outcome for most inputs
  }
  check_consistent(tensors);
  // What was accepted must be writable (names are valid UTF-8, as JSON requires) and read back
  // identically as F32.
  std::string image;
  try {
    image = elman::detail::encode_safetensors(tensors, metadata);
  } catch (const elman::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("an accepted file cannot be written back");
  }
  std::map<std::string, std::string> metadata2;
  elman::TensorMap again;
  try {
    again = elman::parse_safetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(),
                                     "round trip", &metadata2);
  } catch (const elman::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("a written file is rejected");
  }
  if (!same(tensors, again) || metadata != metadata2) finding("round trip changed the tensors");
  return 0;
}
