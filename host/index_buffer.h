// detail::IndexBuffer: an int32 array on a device (the batch permutation and the sorted
// lengths of a variable-length batch), owned and freed by RAII, uploaded on the backend's lane.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "elman/device.h"
#include "elman/tensor.h"

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
  // backend's pinned staging: no host wait, graph-capturable; grows as needed, on CUDA from the
  // stream-ordered pool on the current lane's stream, so growing never waits for the device;
  // the buffer must then stay on that lane, and be released before that stream is destroyed).
  void upload(Backend& backend, const std::vector<int32_t>& values);
  // Room for at least n values on the backend's device (the same growth rule as upload), for
  // ops that write ids on the device.
  void reserve(Backend& backend, size_t n);
  const int32_t* data() const { return data_; }
  int32_t* data() { return data_; }

 private:
  void release() noexcept;
  int32_t* data_ = nullptr;
  size_t capacity_ = 0;
  Device device_;
  CUstream_st* stream_ = nullptr;  // CUDA: the stream its pool memory is ordered on
};

}  // namespace elman::detail
