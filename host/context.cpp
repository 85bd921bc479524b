// elman::Context and elman::Device: picking a device and building its backend.
#include "elman/context.h"

#include "elman/error.h"
#include "elman/version.h"
#include "host/cpu_backend.h"
#include "kernels/cuda_api.h"

namespace elman {

const char* version_string() { return "0.1.0"; }

int cuda_device_count() { return detail::cuda_device_count_or_zero(); }

bool built_with_cuda() { return detail::cuda_built_in(); }

Device Device::best_available() { return cuda_available() ? Device::cuda(0) : Device::cpu(); }

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Context::Context(Device device, CUstream_st* stream) {
  if (device.is_cpu()) {
    if (stream) throw Error("Context: a CUDA stream was given for the CPU device");
    backend_ = std::make_unique<detail::CpuBackend>();
    return;
  }
  if (!built_with_cuda())
    throw Error("Context: " + device.str() +
                " requested but this elman was built without CUDA (ELMAN_WITH_CUDA=OFF, or no "
                "CUDA compiler at configure time); use Device::cpu() or Device::best_available()");
  const int count = cuda_device_count();
  if (count == 0)
    throw Error("Context: " + device.str() +
                " requested but no CUDA device is present (use Device::cpu() or "
                "Device::best_available())");
  if (device.index < 0 || device.index >= count)
    throw Error("Context: " + device.str() + " requested but only " + std::to_string(count) +
                " CUDA device(s) are present");
  backend_ = detail::make_cuda_backend(device.index, stream);
}

Context::~Context() = default;
Context::Context(const Context&) = default;
Context& Context::operator=(const Context&) = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

detail::Backend& Context::backend() const {
  if (!backend_)
    throw Error("Context: this context was moved from; use the context it was moved into");
  return *backend_;
}
Device Context::device() const { return backend().device(); }
CUstream_st* Context::stream() const { return backend().stream(); }
void Context::synchronize() { backend().synchronize(); }

void Context::set_num_threads(int n) {
  if (!device().is_cpu())
    throw Error("Context::set_num_threads: the context is on " + device().str() +
                "; the thread count is a CPU setting");
  static_cast<detail::CpuBackend&>(backend()).set_num_threads(n);
}

int Context::num_threads() const {
  if (!device().is_cpu()) return 1;
  return static_cast<const detail::CpuBackend&>(backend()).num_threads();
}

}  // namespace elman
