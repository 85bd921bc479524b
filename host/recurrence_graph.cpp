// Algorithm::kGraph: the standard recurrence's step loop captured once per (shape, lengths,
// buffers, stream) in a CUDA graph and replayed, one launch for the T steps' GEMMs and kernels.
#include <cstdint>

#include "host/backend.h"
#include "host/graph_key.h"
#include "host/recurrence.h"

namespace elman::detail {

namespace {

int64_t word(const void* p) { return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p)); }

void add_counts(GraphKey& k, const int64_t* active, int64_t seq_len) {
  k.words.insert(k.words.end(), active, active + seq_len);
}

}  // namespace

GraphKey graph_key(const ForwardRecurrence& r, const void* stream) {
  GraphKey k{{1, word(stream), word(r.pre), word(r.w_hh), word(r.b_ih), word(r.b_hh), word(r.h0),
              word(r.h), r.seq_len, r.batch, r.hidden, r.ld_h, static_cast<int64_t>(r.act),
              r.reverse ? 1 : 0}};
  add_counts(k, r.active, r.seq_len);
  return k;
}

GraphKey graph_key(const BackwardRecurrence& r, const void* stream) {
  GraphKey k{{2, word(stream), word(r.dy), word(r.h), word(r.w_hh), word(r.grad_h_n), word(r.delta),
              word(r.grad_h0), r.seq_len, r.batch, r.hidden, r.ld_dy, r.ld_h, r.ld_delta,
              static_cast<int64_t>(r.act), r.reverse ? 1 : 0}};
  add_counts(k, r.active, r.seq_len);
  return k;
}

void graph_forward_recurrence(Backend& be, const ForwardRecurrence& r) {
  be.capture_or_replay(graph_key(r, be.current_stream()),
                       [&] { standard_forward_recurrence(be, r); });
}

void graph_backward_recurrence(Backend& be, const BackwardRecurrence& r) {
  be.capture_or_replay(graph_key(r, be.current_stream()),
                       [&] { standard_backward_recurrence(be, r); });
}

}  // namespace elman::detail
