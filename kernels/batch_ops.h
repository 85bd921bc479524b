// Functors that move whole sequences between the user's batch order and layout and the
// internal one: time-major, sorted by length (longest first) when lengths vary, so that the
// sequences still running at step t are rows [0, active_t) (DESIGN.md §1, variable lengths).
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace elman::detail {

// Row of user tensor [T, B, F] (or [B, T, F] with batch_first) for step t, sequence b.
ELMAN_HD inline int64_t user_row(bool batch_first, int64_t seq_len, int64_t batch, int64_t t,
                                 int64_t b) {
  return batch_first ? b * seq_len + t : t * batch + b;
}

// to_internal: dst[t, i, :] = user[t, perm[i], :]; else user[t, perm[i], :] = src[t, i, :]
// (the last layer's output); either way 0 where t >= lengths[i], past the sequence's end.
// perm == nullptr: identity; lengths == nullptr: every sequence has length T.
struct ReorderSequences {
  const float* src;  // user layout (to_internal), else [T, B, F] time-major, internal order
  float* dst;        // [T, B, F] time-major, internal order (to_internal), else user layout
  int64_t seq_len, batch, features;
  const int32_t* perm;
  const int32_t* lengths;  // internal order
  bool batch_first;
  bool to_internal;
  int64_t rows() const { return seq_len * batch; }
  int64_t cols() const { return features; }
  ELMAN_HD void at(int64_t row, int64_t f) const {  // row = t * batch + i
    const int64_t i = row % batch, t = row / batch;
    const int64_t b = perm ? perm[i] : i;
    const bool live = !lengths || t < lengths[i];
    const int64_t internal = row * features + f;
    const int64_t user = user_row(batch_first, seq_len, batch, t, b) * features + f;
    if (to_internal)
      dst[internal] = live ? src[user] : 0.0f;
    else
      dst[user] = live ? src[internal] : 0.0f;
  }
};

// dst[s, i, :] = src[s, perm[i], :] (to_internal) or dst[s, perm[i], :] = src[s, i, :]:
// per-sequence states such as h0, h_n and their gradients, [S, B, F].
struct PermuteRows {
  const float* src;
  float* dst;
  int64_t slices, batch, features;
  const int32_t* perm;  // not null
  bool to_internal;
  int64_t rows() const { return slices * batch; }
  int64_t cols() const { return features; }
  ELMAN_HD void at(int64_t row, int64_t f) const {  // row = s * batch + i
    const int64_t i = row % batch, s = row / batch;
    const int64_t k = row * features + f, p = (s * batch + perm[i]) * features + f;
    if (to_internal)
      dst[k] = src[p];
    else
      dst[p] = src[k];
  }
};

// dst[perm[i], :] = src[t_i, i, :], where t_i = lengths[i] - 1 (the forward direction's last
// step, the reverse direction's first) or, with at_start, 0: h_n of each direction, or delta
// where the reverse direction started from h0.
struct GatherFinalStep {
  const float* src;  // [T, B, ld_src] time-major, internal order
  float* dst;        // [B, features], row order perm (or internal when perm == nullptr)
  int64_t seq_len, batch, features, ld_src;
  const int32_t* perm;
  const int32_t* lengths;
  bool at_start;
  int64_t rows() const { return batch; }
  int64_t cols() const { return features; }
  ELMAN_HD void at(int64_t i, int64_t f) const {
    const int64_t t = at_start ? 0 : (lengths ? lengths[i] : seq_len) - 1;
    const int64_t b = perm ? perm[i] : i;
    dst[b * features + f] = src[(t * batch + i) * ld_src + f];
  }
};

}  // namespace elman::detail
