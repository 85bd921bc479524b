// elman::Tensor: a dense, row-major float32 array on one device (PyTorch's contiguous tensor).
// Copies are shallow (shared storage, like torch.Tensor); clone() and to() make deep copies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "elman/device.h"

namespace elman {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);  // "[5, 3, 2]"
// The product of the sizes; throws elman::Error on a negative size or a product that overflows.
int64_t shape_numel(const Shape& shape);

}  // namespace elman

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared so no CUDA header is needed

namespace elman {
class Tensor;
}

namespace elman::detail {
class Storage;
// A tensor whose CUDA memory comes from the device's stream-ordered pool on `stream` and goes
// back to it there (host/buffers.h's scratch buffers); plain empty() on the CPU.
Tensor empty_stream_ordered(const Shape& shape, Device device, CUstream_st* stream);
}  // namespace elman::detail

namespace elman {

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing (like an absent optional argument)

  static Tensor empty(const Shape& shape, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  // Copies `values` (numel(shape) of them, row-major) onto `device`.
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values,
                            Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return defined() ? shape_numel(shape_) : 0; }
  Device device() const;

  float* data();
  const float* data() const;

  // How many times this tensor's storage was written through elman: fill, copy_from, every
  // result elman writes in place (forward_into's output, an optimizer step's parameters, ...)
  // and mark_modified(). Shared by all views of one storage, like torch.Tensor._version.
  // RNN::backward compares it with forward_train's to refuse an input or weight changed in
  // between. Writes through data() are not seen: follow them with mark_modified().
  uint64_t version() const;
  void mark_modified();
  // True when the two tensors have an element in common (same storage, overlapping ranges).
  bool shares_memory_with(const Tensor& other) const;
  // True when both are the same elements in the same shape (same storage, offset and shape).
  bool is_same(const Tensor& other) const;

  // Deep copies. Transfers between host and device synchronise the device: they are explicit,
  // user-requested moves, never on a hot path. Undefined tensors: to() and clone() give an
  // undefined tensor, to_vector() throws.
  Tensor to(Device device) const;
  Tensor clone() const;
  std::vector<float> to_vector() const;
  // Copies the values of `src` (same shape, any device) into this tensor.
  void copy_from(const Tensor& src);
  void fill(float value);

  // A view of `shape` onto the same storage, starting `offset` elements into this tensor;
  // throws elman::Error when it does not fit.
  Tensor view(const Shape& shape, int64_t offset = 0) const;
  Tensor reshape(const Shape& shape) const { return view(shape, 0); }

 private:
  friend Tensor detail::empty_stream_ordered(const Shape&, Device, CUstream_st*);
  std::shared_ptr<detail::Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
};

}  // namespace elman
