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
  // CUDA device 0 when one is present (and the library has CUDA), else the CPU.
  static Device best_available();

  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  std::string str() const;  // "cpu", "cuda:0"
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Number of usable CUDA devices; 0 where there is no driver or no GPU, or the library was built
// without CUDA (never throws).
int cuda_device_count();
inline bool cuda_available() { return cuda_device_count() > 0; }

// Whether this library has its CUDA backend. false for a CPU-only build (CMake option
// ELMAN_WITH_CUDA=OFF, or AUTO where no CUDA compiler was found): there every CUDA request
// (a Context, a tensor) throws an Error saying the library was built without CUDA.
bool built_with_cuda();

}  // namespace elman
