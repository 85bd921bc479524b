// Overflow-checked size arithmetic: every element count and byte count elman computes from a
// user's sizes goes through these, so a huge size is an elman::Error, never a wrapped number.
#pragma once

#include <cstdint>
#include <string>

#include "elman/error.h"

namespace elman::detail {

// The error of checked_mul and checked_add: `what`, the operands and the operator.
inline Error size_overflow(const std::string& what, int64_t a, const char* op, int64_t b) {
  return Error(what + ": size " + std::to_string(a) + op + std::to_string(b) +
               " is negative or overflows a 64-bit count");
}

// a * b for non-negative a and b; throws elman::Error naming `what` when it exceeds INT64_MAX.
inline int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) throw size_overflow(what, a, " x ", b);
  return r;
}

// a + b for non-negative a and b; throws elman::Error naming `what` when it exceeds INT64_MAX.
inline int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r)) throw size_overflow(what, a, " + ", b);
  return r;
}

// The product of several sizes, checked (shape_numel's arithmetic).
template <typename... Sizes>
int64_t checked_product(const std::string& what, int64_t first, Sizes... rest) {
  int64_t r = first;
  ((r = checked_mul(r, static_cast<int64_t>(rest), what)), ...);
  if (r < 0) throw Error(what + ": negative size " + std::to_string(r));
  return r;
}

}  // namespace elman::detail
