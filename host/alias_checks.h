// The aliasing rule of every call that writes caller-owned results (README, "Aliasing"): a result
// written in place may not share memory with what the call reads, nor with another result.
// Checked before any work is queued, so a refused call changes nothing.
#pragma once

#include <initializer_list>

#include "elman/tensor.h"

namespace elman::detail {

struct NamedTensor {
  const char* name;
  const Tensor& tensor;
};

// Whether ensure_result(result, shape, device) would keep `result` and write into its storage.
inline bool written_in_place(const Tensor& result, const Shape& shape, Device device) {
  return result.defined() && result.shape() == shape && result.device() == device;
}

// Throws elman::Error ("<call>: result <name> shares memory with <arg>; ...") when `result`
// would be written in place and shares memory with one of `reads`.
void check_no_overlap(const char* call, const NamedTensor& result, const Shape& shape,
                      Device device, std::initializer_list<NamedTensor> reads);

}  // namespace elman::detail
