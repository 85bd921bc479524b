// Reusable scratch buffers: grown before a time loop, never inside it (STYLE.md rule 4).
#pragma once

#include "elman/tensor.h"
#include "host/backend.h"

namespace elman::detail {

// Returns a view of `shape` onto `buffer`, reallocating `buffer` on `device` only when it is
// too small or on another device. Contents are unspecified.
inline Tensor ensure_buffer(Tensor& buffer, const Shape& shape, Device device) {
  const int64_t need = shape_numel(shape);
  if (!buffer.defined() || buffer.device() != device || buffer.numel() < need)
    buffer = Tensor::empty({need}, device);
  return buffer.view(shape, 0);
}

// The same for a workspace used on `be`: on CUDA from the device's stream-ordered pool on the
// backend's stream, so growing it (and freeing what it replaces) never waits for the device.
inline Tensor ensure_buffer(Tensor& buffer, const Shape& shape, const Backend& be) {
  const int64_t need = shape_numel(shape);
  if (!buffer.defined() || buffer.device() != be.device() || buffer.numel() < need)
    buffer = empty_stream_ordered({need}, be.device(), be.stream());
  return buffer.view(shape, 0);
}

// Makes `t` a tensor of exactly `shape` on `device`: kept as it is when it already is one (its
// storage is then written in place, which counts as a write: Tensor::version()), replaced by a
// new allocation otherwise.
inline void ensure_result(Tensor& t, const Shape& shape, Device device) {
  if (!t.defined() || t.shape() != shape || t.device() != device)
    t = Tensor::empty(shape, device);
  else
    t.mark_modified();
}

}  // namespace elman::detail
