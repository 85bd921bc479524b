// elman::Context: the device a model runs on, the stream its work goes to, and the library
// handles (cuBLAS) that belong to it. No global state: everything hangs off a context.
#pragma once

#include <memory>

#include "elman/device.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared here so no CUDA header is needed

namespace elman {

namespace detail {
class Backend;
}

class Context {
 public:
  // `stream` (CUDA only) is the user's stream: all work of this context is ordered on it.
  // nullptr means the legacy default stream.
  explicit Context(Device device = Device::cpu(), CUstream_st* stream = nullptr);
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const;
  CUstream_st* stream() const;
  // Waits until all work queued by this context has finished (no-op on the CPU).
  void synchronize();

  // CPU contexts: the threads the fused recurrence may use (README "Algorithms"). The default is
  // the environment variable ELMAN_NUM_THREADS if set, else the cores this process may run on,
  // at most 16; n >= 1. CUDA contexts have no such setting: set_num_threads throws there and
  // num_threads() is 1.
  void set_num_threads(int n);
  int num_threads() const;

  detail::Backend& backend();  // internal: the seam between orchestration and the device

 private:
  std::unique_ptr<detail::Backend> backend_;
};

}  // namespace elman
