// elman::Context: the device a model runs on, the stream its work goes to, and the library
// handles (cuBLAS) that belong to it. No global state: everything hangs off a context.
// A Context is a handle: copies share the device, stream and handles (like a shared_ptr), and
// every model keeps its own copy, so a context may be destroyed or moved before its models.
#pragma once

#include <memory>

#include "elman/device.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared here so no CUDA header is needed

namespace elman {

namespace detail {
class Backend;
struct ContextAccess;  // host/backend.h: the library's own way to a context's backend
}  // namespace detail

class Context {
 public:
  // `stream` (CUDA only) is the user's stream: all work of this context is ordered on it.
  // nullptr means the legacy default stream.
  explicit Context(Device device = Device::cpu(), CUstream_st* stream = nullptr);
  ~Context();
  Context(const Context&);
  Context& operator=(const Context&);
  // A moved-from context throws elman::Error from every call.
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  Device device() const;
  CUstream_st* stream() const;
  // Waits until all work queued by this context has finished (no-op on the CPU).
  void synchronize();
  // True when both handles share the same device, stream and handles (one is a copy of the
  // other): models of one computation must share a context.
  bool operator==(const Context& other) const { return backend_ == other.backend_; }
  bool operator!=(const Context& other) const { return !(*this == other); }

  // CPU contexts: the threads the fused recurrence may use (README "Algorithms"), shared by the
  // context's copies. The default is the environment variable ELMAN_NUM_THREADS if set, else the
  // cores this process may run on, at most 16; n >= 1. CUDA contexts have no such setting:
  // set_num_threads throws there and num_threads() is 1. A context (with its copies) serves one
  // host thread at a time: its thread pool, like its cuBLAS handles, is not shared by concurrent
  // calls.
  void set_num_threads(int n);
  int num_threads() const;

 private:
  friend struct detail::ContextAccess;
  detail::Backend& backend() const;  // the seam between orchestration and the device
  std::shared_ptr<detail::Backend> backend_;
};

}  // namespace elman
