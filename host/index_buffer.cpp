// IndexBuffer: allocation on the CPU or a CUDA device and uploads through the backend.
#include "host/index_buffer.h"

#include <cstring>

#include "host/backend.h"
#include "kernels/cuda_api.h"

namespace elman::detail {

IndexBuffer::~IndexBuffer() { release(); }

IndexBuffer::IndexBuffer(IndexBuffer&& o) noexcept
    : data_(o.data_), capacity_(o.capacity_), device_(o.device_), stream_(o.stream_) {
  o.data_ = nullptr;
  o.capacity_ = 0;
}

IndexBuffer& IndexBuffer::operator=(IndexBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = o.data_;
    capacity_ = o.capacity_;
    device_ = o.device_;
    stream_ = o.stream_;
    o.data_ = nullptr;
    o.capacity_ = 0;
  }
  return *this;
}

void IndexBuffer::release() noexcept {
  if (!data_) return;
  if (device_.is_cpu())
    delete[] data_;
  else
    cuda_free_async(data_, device_.index, stream_);
  data_ = nullptr;
  capacity_ = 0;
}

void IndexBuffer::reserve(Backend& backend, size_t n) {
  if (n == 0 || (capacity_ >= n && backend.device() == device_)) return;
  release();
  device_ = backend.device();
  if (device_.is_cpu()) {
    data_ = new int32_t[n];
  } else {
    stream_ = backend.current_stream();  // the lane that uses it: ordered there
    data_ = static_cast<int32_t*>(cuda_allocate_async(n * sizeof(int32_t), device_.index, stream_));
  }
  capacity_ = n;
}

void IndexBuffer::upload(Backend& backend, const std::vector<int32_t>& values) {
  if (values.empty()) return;
  reserve(backend, values.size());
  backend.upload(data_, values.data(), values.size() * sizeof(int32_t));
}

}  // namespace elman::detail
