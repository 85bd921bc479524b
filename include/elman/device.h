// Devices: where tensors live and where work runs. Nothing moves between devices implicitly.
#pragma once

#include <string>

namespace elman {

enum class DeviceType { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;  // CUDA ordinal; 0 for the CPU

  static Device cpu() { return {DeviceType::kCPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::kCUDA, index}; }
  // CUDA device 0 when one is present, else the CPU.
  static Device best_available();

  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  std::string str() const;  // "cpu", "cuda:0"
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Number of usable CUDA devices; 0 where there is no driver or no GPU (never throws).
int cuda_device_count();
inline bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace elman
