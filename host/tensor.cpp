// elman::Tensor and its storage: allocation on the CPU or a CUDA device, copies, views.
#include "elman/tensor.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>

#include "elman/error.h"
#include "host/checked_size.h"
#include "host/storage.h"
#include "kernels/cuda_api.h"

namespace elman {

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    if (s < 0) throw Error("shape " + shape_str(shape) + " has a negative dimension");
    // The message is formatted only on overflow (checked_mul throws): shape_numel runs for
    // every view and buffer of every call.
    int64_t product;
    if (__builtin_mul_overflow(n, s, &product))
      detail::checked_mul(n, s, "shape " + shape_str(shape));
    n = product;
  }
  return n;
}

namespace detail {

namespace {

// The machine's physical memory in bytes (0 when unknown). A request above it is refused up
// front: Linux may grant it (overcommit) and then kill the process when the pages are touched.
int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return checked_mul(pages, page, "physical memory");
}

}  // namespace

Storage::Storage(int64_t numel, Device device, CUstream_st* stream)
    : numel_(numel), device_(device), stream_(device.is_cpu() ? nullptr : stream) {
  if (numel < 0) throw Error("Storage: negative size " + std::to_string(numel));
  if (numel > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(float)))
    throw Error("Storage: could not allocate " + std::to_string(numel) + " floats on " +
                device.str() + " (their size in bytes overflows a 64-bit count)");
  const int64_t bytes = numel * static_cast<int64_t>(sizeof(float));
  if (device.is_cpu()) {
    const int64_t ram = physical_memory_bytes();
    if (ram > 0 && bytes > ram)
      throw Error("Storage: could not allocate " + std::to_string(bytes) + " bytes on cpu (the " +
                  "machine has " + std::to_string(ram) + " bytes of memory)");
    if (numel > 0) {
      data_ = new (std::nothrow) float[static_cast<size_t>(numel)];
      if (!data_)
        throw Error("Storage: could not allocate " + std::to_string(bytes) + " bytes on cpu");
    }
  } else {
    data_ = static_cast<float*>(
        stream_ ? cuda_allocate_async(static_cast<size_t>(bytes), device.index, stream_)
                : cuda_allocate(static_cast<size_t>(bytes), device.index));
  }
}

Storage::~Storage() {
  if (device_.is_cpu())
    delete[] data_;
  else if (stream_)
    cuda_free_async(data_, device_.index, stream_);
  else
    cuda_free(data_, device_.index);
}

Tensor empty_stream_ordered(const Shape& shape, Device device, CUstream_st* stream) {
  Tensor t;
  t.storage_ = std::make_shared<Storage>(shape_numel(shape), device, stream);
  t.shape_ = shape;
  return t;
}

}  // namespace detail

Tensor Tensor::empty(const Shape& shape, Device device) {
  Tensor t;
  t.storage_ = std::make_shared<detail::Storage>(shape_numel(shape), device);
  t.shape_ = shape;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error("Tensor::from_vector: " + std::to_string(values.size()) +
                " values given for shape " + shape_str(shape) + " (" +
                std::to_string(shape_numel(shape)) + " expected)");
  Tensor t = empty(shape, device);
  if (device.is_cpu())
    std::copy(values.begin(), values.end(), t.data());
  else
    detail::cuda_copy(t.data(), values.data(), values.size() * sizeof(float), true, false);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  if (d < -n || d >= n)
    throw Error("Tensor::size: dimension " + std::to_string(d) + " out of range for shape " +
                shape_str(shape_));
  return shape_[static_cast<size_t>(d < 0 ? d + n : d)];
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

uint64_t Tensor::version() const { return storage_ ? storage_->version() : 0; }

void Tensor::mark_modified() {
  if (storage_) storage_->bump_version();
}

bool Tensor::shares_memory_with(const Tensor& other) const {
  if (!storage_ || storage_ != other.storage_) return false;
  const int64_t n = numel(), m = other.numel();
  if (n == 0 || m == 0) return false;
  return offset_ < other.offset_ + m && other.offset_ < offset_ + n;
}

bool Tensor::is_same(const Tensor& other) const {
  return storage_ == other.storage_ && offset_ == other.offset_ && shape_ == other.shape_;
}

float* Tensor::data() { return storage_ ? storage_->data() + offset_ : nullptr; }
const float* Tensor::data() const { return storage_ ? storage_->data() + offset_ : nullptr; }

Tensor Tensor::to(Device device) const {
  if (!defined()) return Tensor();
  Tensor t = empty(shape_, device);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const { return to(device()); }

std::vector<float> Tensor::to_vector() const {
  if (!defined()) throw Error("Tensor::to_vector: undefined tensor");
  std::vector<float> out;
  try {
    out.resize(static_cast<size_t>(numel()));
  } catch (const std::bad_alloc&) {
    throw Error("Tensor::to_vector: could not allocate " + std::to_string(numel()) +
                " floats on the host");
  }
  if (out.empty()) return out;
  if (device().is_cpu())
    std::memcpy(out.data(), data(), out.size() * sizeof(float));
  else
    detail::cuda_copy(out.data(), data(), out.size() * sizeof(float), false, true);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  if (!defined() || !src.defined()) throw Error("Tensor::copy_from: undefined tensor");
  if (src.shape() != shape_)
    throw Error("Tensor::copy_from: source has shape " + shape_str(src.shape()) + ", expected " +
                shape_str(shape_));
  const size_t bytes = static_cast<size_t>(numel()) * sizeof(float);
  if (bytes == 0) return;
  mark_modified();
  if (device().is_cpu() && src.device().is_cpu())
    std::memmove(data(), src.data(), bytes);
  else
    detail::cuda_copy(data(), src.data(), bytes, device().is_cuda(), src.device().is_cuda());
}

void Tensor::fill(float value) {
  if (!defined()) throw Error("Tensor::fill: undefined tensor");
  mark_modified();
  if (device().is_cpu())
    std::fill(data(), data() + numel(), value);
  else
    detail::cuda_fill_float(data(), static_cast<size_t>(numel()), value, device().index);
}

Tensor Tensor::view(const Shape& shape, int64_t offset) const {
  if (!defined()) throw Error("Tensor::view: undefined tensor");
  // Written so that no sum can overflow: offset <= numel, then the view's size <= the rest.
  if (offset < 0 || offset > numel() || shape_numel(shape) > numel() - offset)
    throw Error("Tensor::view: shape " + shape_str(shape) + " at offset " + std::to_string(offset) +
                " does not fit in a tensor of shape " + shape_str(shape_));
  Tensor t = *this;
  t.offset_ = offset_ + offset;
  t.shape_ = shape;
  return t;
}

}  // namespace elman
