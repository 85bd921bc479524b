// Pinned host buffers through which the CUDA backend uploads small host arrays (a batch's
// permutation and lengths): a copy from pageable memory may block the host and cannot be captured
// in a CUDA graph. A ring of slots, each reused only once the copy that last read it has run.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstring>

#include "kernels/cuda_check.cuh"
#include "kernels/cuda_raii.cuh"

namespace elman::detail {

class PinnedStagingRing {
 public:
  // Uploads within one call (a forward queues two) never wait for each other; a slot is waited
  // for only when it comes round again, kSlots uploads later, normally long after its copy ran.
  static constexpr int kSlots = 4;

  PinnedStagingRing() = default;
  ~PinnedStagingRing() {
    for (Slot& s : slots_) release(s);
  }
  PinnedStagingRing(const PinnedStagingRing&) = delete;
  PinnedStagingRing& operator=(const PinnedStagingRing&) = delete;

  // Queues a copy of `bytes` from host memory `src` to device memory `dst` on `stream`; `src`
  // may be reused as soon as the call returns (it is copied into the slot first).
  void upload(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
    if (bytes == 0) return;
    Slot& s = slots_[next_];
    next_ = (next_ + 1) % kSlots;
    if (s.copied.get()) ELMAN_CUDA_CHECK(cudaEventSynchronize(s.copied.get()));
    if (s.capacity < bytes) {
      release(s);
      const size_t capacity = bytes < kMinBytes ? kMinBytes : bytes;
      ELMAN_CUDA_CHECK(cudaHostAlloc(&s.host, capacity, cudaHostAllocDefault));
      s.capacity = capacity;
    }
    if (!s.copied.get()) s.copied = make_event();
    std::memcpy(s.host, src, bytes);
    ELMAN_CUDA_CHECK(cudaMemcpyAsync(dst, s.host, bytes, cudaMemcpyHostToDevice, stream));
    ELMAN_CUDA_CHECK(cudaEventRecord(s.copied.get(), stream));
  }

 private:
  static constexpr size_t kMinBytes = 4096;  // a batch of 1,024 int32 indices
  struct Slot {
    void* host = nullptr;  // pinned, `capacity` bytes
    size_t capacity = 0;
    EventOwner copied;  // recorded after the copy that last read `host`
  };
  static void release(Slot& s) noexcept {
    if (s.host) cudaFreeHost(s.host);  // waits for the copies still reading it
    s.host = nullptr;
    s.capacity = 0;
  }

  std::array<Slot, kSlots> slots_;
  int next_ = 0;
};

}  // namespace elman::detail
