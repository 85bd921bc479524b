// detail::Storage: one allocation of floats on one device, freed in its destructor.
#pragma once

#include <cstdint>

#include "elman/device.h"

namespace elman::detail {

class Storage {
 public:
  Storage(int64_t numel, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() const { return data_; }
  int64_t numel() const { return numel_; }
  Device device() const { return device_; }

 private:
  float* data_ = nullptr;
  int64_t numel_;
  Device device_;
};

}  // namespace elman::detail
