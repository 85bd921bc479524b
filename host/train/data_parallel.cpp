// The trainer's data-parallel steps that do not touch its step buffers (data_parallel.h): the
// ranks' agreement on their run, rank 0's state broadcast, the per-epoch reduction.
#include "host/train/data_parallel.h"

#include <algorithm>
#include <limits>

namespace elman::detail {

void check_ranks_agree(Communicator& comm, const std::string& call,
                       const std::vector<std::pair<std::string, int64_t>>& facts) {
  std::vector<int64_t> lo, hi;
  for (const auto& f : facts) lo.push_back(f.second);
  hi = lo;
  comm.allreduce(lo, ReduceOp::kMin);
  comm.allreduce(hi, ReduceOp::kMax);
  for (size_t i = 0; i < facts.size(); ++i)
    if (lo[i] != hi[i])
      throw CollectiveError(call + ": the ranks disagree on " + facts[i].first + ": from " +
                                std::to_string(lo[i]) + " to " + std::to_string(hi[i]) +
                                " across " + std::to_string(comm.size()) +
                                " ranks (every rank must build the same model, options and data "
                                "set, and resume from the same checkpoint)",
                            -1);
}

void broadcast_training_state(Communicator& comm, const std::vector<Tensor>& parameters,
                              Optimizer& opt) {
  for (Tensor p : parameters) comm.broadcast(p, 0);
  const int states = static_cast<int>(opt.state_names().size());
  for (int64_t g = 0; g < opt.group_count(); ++g)
    for (int k = 0; k < states; ++k) comm.broadcast(opt.state(g, k), 0);
}

int reduce_epoch_sums(Communicator& comm, std::vector<float>& sums, int64_t first_slot) {
  std::vector<double> losses{sums[0], sums[1]};
  comm.allreduce(losses, ReduceOp::kSum);
  sums[0] = static_cast<float>(losses[0]);
  sums[1] = static_cast<float>(losses[1]);
  // Slots hold steps (exact integers in float); 0 means none, so it must not win the minimum.
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  const size_t slots = sums.size() - static_cast<size_t>(first_slot);
  std::vector<int64_t> first(slots);
  int64_t mine = kNone;  // this rank's earliest fault
  for (size_t s = 0; s < slots; ++s) {
    const float v = sums[first_slot + s];
    first[s] = v > 0.0f ? static_cast<int64_t>(v) : kNone;
    mine = std::min(mine, first[s]);
  }
  comm.allreduce(first, ReduceOp::kMin);
  int64_t earliest = kNone;
  for (size_t s = 0; s < slots; ++s) {
    sums[first_slot + s] = first[s] == kNone ? 0.0f : static_cast<float>(first[s]);
    earliest = std::min(earliest, first[s]);
  }
  std::vector<int64_t> who{earliest != kNone && mine == earliest ? comm.rank() : kNone};
  comm.allreduce(who, ReduceOp::kMin);
  return who[0] == kNone ? 0 : static_cast<int>(who[0]);
}

}  // namespace elman::detail
