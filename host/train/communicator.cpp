// The one-process communicator and what every communicator shares: the failure agreement and
// the shard arithmetic of data-parallel training.
#include "elman/communicator.h"

#include <cstdlib>
#include <limits>

namespace elman {

Communicator::~Communicator() = default;

void SingleProcess::allreduce_sum(Tensor& buf, float scale) {
  if (scale == 1.0f || buf.numel() == 0) return;
  buf.mark_modified();
  const Device dev = buf.device();
  if (dev.is_cpu()) {
    float* p = buf.data();
    for (int64_t i = 0, n = buf.numel(); i < n; ++i) p[i] *= scale;
    return;
  }
  // A CUDA buffer: through the host (one process has no one to exchange with; no hot path).
  Tensor host = buf.to(Device::cpu());
  allreduce_sum(host, scale);
  buf.copy_from(host);
}

void SingleProcess::broadcast(Tensor&, int root) {
  if (root != 0)
    throw Error("SingleProcess::broadcast: root is " + std::to_string(root) +
                ", the only rank is 0");
}

void SingleProcess::broadcast(std::string&, int root) {
  if (root != 0)
    throw Error("SingleProcess::broadcast: root is " + std::to_string(root) +
                ", the only rank is 0");
}

void SingleProcess::abort(int status) { std::exit(status); }

void agree_on_failure(Communicator& comm, const std::string& call,
                      const std::string& local_failure) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> failed{local_failure.empty() ? kNone : comm.rank()};
  comm.allreduce(failed, ReduceOp::kMin);
  if (failed[0] == kNone) return;
  const int who = static_cast<int>(failed[0]);
  std::string message = local_failure;
  comm.broadcast(message, who);
  throw CollectiveError(call + ": rank " + std::to_string(who) + " of " +
                            std::to_string(comm.size()) + " failed, every rank stopped: " + message,
                        who);
}

Shard shard_of(int64_t count, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size || count < 0)
    throw Error("shard_of: rank " + std::to_string(rank) + " of " + std::to_string(size) +
                " ranks, " + std::to_string(count) + " items: expected 0 <= rank < size");
  const int64_t base = count / size, extra = count % size;
  Shard s;
  s.length = base + (rank < extra ? 1 : 0);
  s.offset = rank * base + (rank < extra ? rank : extra);
  return s;
}

}  // namespace elman
