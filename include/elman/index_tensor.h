// elman::IndexTensor: integer ids on a device (the role of torch's LongTensor: token ids for an
// Embedding, class ids for a loss). Immutable once made, so a reused one can never go stale.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "elman/device.h"
#include "elman/tensor.h"

namespace elman {

class IndexTensor;

namespace detail {
class IndexStorage;
// The ids on the device as int32 (values are checked to fit when the tensor is made).
const int32_t* index_data(const IndexTensor& ids);
}  // namespace detail

class IndexTensor {
 public:
  IndexTensor() = default;  // undefined: holds nothing

  // Copies `values` (numel(shape) of them, row-major) onto `device`. Every value must lie in
  // [0, 2^31 - 1] (ids are stored as int32 on the device); elman::Error names the first that
  // does not, and its position.
  static IndexTensor from_vector(const Shape& shape, const std::vector<int64_t>& values,
                                 Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return defined() ? shape_numel(shape_) : 0; }
  Device device() const;
  // The values, from a host copy kept when the tensor was made (no device read).
  const std::vector<int64_t>& to_vector() const;
  // The largest value (-1 when empty), known without a device read: what range checks use.
  int64_t max() const;

 private:
  friend const int32_t* detail::index_data(const IndexTensor&);
  std::shared_ptr<const detail::IndexStorage> storage_;
  Shape shape_;
};

}  // namespace elman
