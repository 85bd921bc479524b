// The two forms of a functor op (kernels/README.md), and the one way both launchers walk them.
// Flat: int64_t size() const; ELMAN_HD void operator()(int64_t i) const, for i < size().
// By rows: int64_t rows() const; int64_t cols() const; ELMAN_HD void at(int64_t r, int64_t c)
// const, for r < rows(), c < cols().
// The row form suits ops over a matrix: the CPU loop walks rows and columns without a division
// per element; the CUDA grid-stride loop splits its flat index once.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/hd.h"

namespace elman::detail {

template <typename Op, typename = void>
struct HasRowForm : std::false_type {};
template <typename Op>
struct HasRowForm<Op, std::void_t<decltype(std::declval<const Op&>().at(int64_t{}, int64_t{})),
                                  decltype(std::declval<const Op&>().rows())>> : std::true_type {};

// How many elements the op computes, in either form.
template <typename Op>
int64_t elements_of(const Op& op) {
  if constexpr (HasRowForm<Op>::value)
    return op.rows() * op.cols();
  else
    return op.size();
}

// The row length the launcher splits a flat index by: op.cols(), or 1 for a flat op.
template <typename Op>
int64_t cols_of(const Op& op) {
  if constexpr (HasRowForm<Op>::value)
    return op.cols();
  else
    return 1;
}

// Element i of the op: (i / cols, i % cols) in the row form, where cols = cols_of(op) (read on
// the host, once per launch), or op(i).
template <typename Op>
ELMAN_HD void run_element(const Op& op, int64_t i, [[maybe_unused]] int64_t cols) {
  if constexpr (HasRowForm<Op>::value)
    op.at(i / cols, i % cols);
  else
    op(i);
}

// The CPU launcher: every element in order, row by row in the row form.
template <typename Op>
void run_op_on_cpu(const Op& op) {
  if constexpr (HasRowForm<Op>::value) {
    const int64_t rows = op.rows(), cols = op.cols();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) op.at(r, c);
  } else {
    const int64_t n = op.size();
    for (int64_t i = 0; i < n; ++i) op(i);
  }
}

}  // namespace elman::detail
