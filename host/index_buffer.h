// detail::IndexBuffer: an int32 array on a device (the batch permutation and the sorted
// lengths of a variable-length batch), owned and freed by RAII, uploaded on the backend's lane.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "elman/device.h"

namespace elman::detail {

class Backend;

class IndexBuffer {
 public:
  IndexBuffer() = default;
  ~IndexBuffer();
  IndexBuffer(IndexBuffer&&) noexcept;
  IndexBuffer& operator=(IndexBuffer&&) noexcept;
  IndexBuffer(const IndexBuffer&) = delete;
  IndexBuffer& operator=(const IndexBuffer&) = delete;

  // Copies `values` to the backend's device (queued on its current lane, through the CUDA
  // backend's pinned staging: no host wait, graph-capturable; grows as needed).
  void upload(Backend& backend, const std::vector<int32_t>& values);
  const int32_t* data() const { return data_; }

 private:
  void release() noexcept;
  int32_t* data_ = nullptr;
  size_t capacity_ = 0;
  Device device_;
};

}  // namespace elman::detail
