// How a batch is run: its lengths checked, sorted longest first (a stable sort, so ties keep
// the user's order), and how many sequences are still running at each step.
#pragma once

#include <cstdint>
#include <vector>

namespace elman::detail {

struct BatchPlan {
  int64_t seq_len = 0, batch = 0;
  bool varying = false;          // some sequence is shorter than seq_len
  bool permuted = false;         // the internal order differs from the user's
  std::vector<int32_t> perm;     // internal row i holds user sequence perm[i]
  std::vector<int32_t> lengths;  // internal order, non-increasing
  std::vector<int64_t> active;   // [seq_len]: sequences running at step t are rows [0, active[t])

  int64_t active_at(int64_t t) const { return t < 0 || t >= seq_len ? 0 : active[t]; }
};

// `lengths` empty means every sequence has length seq_len. Otherwise it must hold `batch`
// values in [1, seq_len]; anything else throws elman::Error naming `call` and the bad value.
BatchPlan make_batch_plan(const char* call, const std::vector<int64_t>& lengths, int64_t seq_len,
                          int64_t batch);

}  // namespace elman::detail
