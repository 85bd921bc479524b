// detail::Storage: one allocation of floats on one device, freed in its destructor.
#pragma once

#include <atomic>
#include <cstdint>

#include "elman/device.h"
#include "elman/tensor.h"

namespace elman::detail {

class Storage {
 public:
  // CUDA memory from cudaMalloc, or with `stream` from the device's stream-ordered pool, ordered
  // on that stream (allocation and release: no device-wide synchronisation).
  Storage(int64_t numel, Device device, CUstream_st* stream = nullptr);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() const { return data_; }
  int64_t numel() const { return numel_; }
  Device device() const { return device_; }
  // Writes made through elman (Tensor::version()).
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> version_{0};
  float* data_ = nullptr;
  int64_t numel_;
  Device device_;
  CUstream_st* stream_;
};

}  // namespace elman::detail
