// IndexTensor: ids validated and kept on the host, copied once to the device as int32.
#include "elman/index_tensor.h"

#include <algorithm>
#include <limits>
#include <string>

#include "elman/error.h"
#include "kernels/cuda_api.h"

namespace elman::detail {

// The ids as the user gave them (int64, on the host: range checks need no device read) and as
// kernels read them (int32 on the tensor's device).
class IndexStorage {
 public:
  IndexStorage(std::vector<int64_t> values, Device device)
      : host_(std::move(values)), device_(device) {
    max_ = host_.empty() ? -1 : *std::max_element(host_.begin(), host_.end());
    std::vector<int32_t> narrow(host_.begin(), host_.end());  // checked to fit by from_vector
    if (device.is_cpu() || narrow.empty()) {
      cpu_ids_ = std::move(narrow);
      return;
    }
    const size_t bytes = narrow.size() * sizeof(int32_t);
    on_device_ = static_cast<int32_t*>(cuda_allocate(bytes, device.index));
    try {
      cuda_copy(on_device_, narrow.data(), bytes, true, false);
    } catch (...) {
      cuda_free(on_device_, device.index);
      throw;
    }
  }
  ~IndexStorage() {
    if (on_device_) cuda_free(on_device_, device_.index);
  }
  IndexStorage(const IndexStorage&) = delete;
  IndexStorage& operator=(const IndexStorage&) = delete;

  const std::vector<int64_t>& host() const { return host_; }
  const int32_t* data() const { return on_device_ ? on_device_ : cpu_ids_.data(); }
  Device device() const { return device_; }
  int64_t max() const { return max_; }

 private:
  std::vector<int64_t> host_;
  std::vector<int32_t> cpu_ids_;  // the CPU's kernel copy; empty on CUDA
  int32_t* on_device_ = nullptr;  // CUDA's
  Device device_;
  int64_t max_ = -1;
};

const int32_t* index_data(const IndexTensor& ids) {
  return ids.storage_ ? ids.storage_->data() : nullptr;
}

}  // namespace elman::detail

namespace elman {

IndexTensor IndexTensor::from_vector(const Shape& shape, const std::vector<int64_t>& values,
                                     Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error("IndexTensor::from_vector: " + std::to_string(values.size()) +
                " values given for shape " + shape_str(shape) + " (" +
                std::to_string(shape_numel(shape)) + " expected)");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0 || values[i] > kMax)
      throw Error("IndexTensor::from_vector: value " + std::to_string(values[i]) + " at position " +
                  std::to_string(i) + " is not an id in [0, " + std::to_string(kMax) + "]");
  IndexTensor t;
  t.storage_ = std::make_shared<const detail::IndexStorage>(values, device);
  t.shape_ = shape;
  return t;
}

Device IndexTensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

const std::vector<int64_t>& IndexTensor::to_vector() const {
  static const std::vector<int64_t> kEmpty;
  return storage_ ? storage_->host() : kEmpty;
}

int64_t IndexTensor::max() const { return storage_ ? storage_->max() : -1; }

}  // namespace elman
