// Where each parameter lives in the flat parameter buffer: PyTorch's names, shapes and order.
// Computed in this one place; the model, the reference adapters and checkpoints all use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elman/rnn.h"

namespace elman::detail {

struct ParamEntry {
  std::string name;  // e.g. "weight_ih_l1_reverse"
  Shape shape;       // e.g. [H, D*H]
  int64_t offset;    // in floats, into the flat buffer
};

// Offsets of one (layer, direction)'s four tensors; bias offsets are -1 with bias=False.
struct CellOffsets {
  int64_t w_ih, w_hh, b_ih, b_hh;
};

struct ParamLayout {
  std::vector<ParamEntry> entries;  // PyTorch's order
  std::vector<CellOffsets> cells;   // index layer * D + direction
  int64_t total = 0;                // floats in the flat buffer
};

ParamLayout make_param_layout(const RNNOptions& options);

}  // namespace elman::detail
