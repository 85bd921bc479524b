// make_batch_plan: validation of lengths and the sorted order the orchestration runs in.
#include "host/batch_plan.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "elman/error.h"

namespace elman::detail {

BatchPlan make_batch_plan(const char* call, const std::vector<int64_t>& lengths, int64_t seq_len,
                          int64_t batch) {
  BatchPlan plan;
  plan.seq_len = seq_len;
  plan.batch = batch;
  plan.perm.resize(static_cast<size_t>(batch));
  std::iota(plan.perm.begin(), plan.perm.end(), 0);
  plan.lengths.assign(static_cast<size_t>(batch), static_cast<int32_t>(seq_len));
  plan.active.assign(static_cast<size_t>(seq_len), batch);
  if (lengths.empty()) return plan;

  if (static_cast<int64_t>(lengths.size()) != batch)
    throw Error(std::string(call) + ": lengths has " + std::to_string(lengths.size()) +
                " entries, expected one per sequence (batch = " + std::to_string(batch) + ")");
  for (size_t b = 0; b < lengths.size(); ++b)
    if (lengths[b] < 1 || lengths[b] > seq_len)
      throw Error(std::string(call) + ": lengths[" + std::to_string(b) +
                  "] = " + std::to_string(lengths[b]) + ", expected a length in [1, " +
                  std::to_string(seq_len) + "] (the input's sequence length)");
  std::stable_sort(plan.perm.begin(), plan.perm.end(),
                   [&](int32_t a, int32_t b) { return lengths[a] > lengths[b]; });
  for (int64_t i = 0; i < batch; ++i) {
    plan.lengths[i] = static_cast<int32_t>(lengths[plan.perm[i]]);
    if (plan.perm[i] != i) plan.permuted = true;
    if (plan.lengths[i] < seq_len) plan.varying = true;
  }
  for (int64_t t = 0; t < seq_len; ++t)
    plan.active[t] =
        std::count_if(plan.lengths.begin(), plan.lengths.end(), [t](int32_t n) { return n > t; });
  return plan;
}

}  // namespace elman::detail
