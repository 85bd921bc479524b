// What identifies a captured CUDA graph of the standard recurrence: every pointer, size, running
// count and flag its kernels were recorded with, and the stream. Equal keys replay the graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "host/recurrence.h"

namespace elman::detail {

struct GraphKey {
  std::vector<int64_t> words;  // a tag (forward or backward), then every field, then the counts
  bool operator==(const GraphKey& o) const { return words == o.words; }
};

struct GraphKeyHash {
  size_t operator()(const GraphKey& k) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the words
    for (int64_t w : k.words) h = (h ^ static_cast<uint64_t>(w)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

GraphKey graph_key(const ForwardRecurrence& r, const void* stream);
GraphKey graph_key(const BackwardRecurrence& r, const void* stream);

}  // namespace elman::detail
