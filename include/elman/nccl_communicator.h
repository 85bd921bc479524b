// elman::NcclCommunicator: NCCL all-reduce and broadcast of CUDA buffers on a context's stream,
// its ranks bootstrapped over another communicator (MPI). In libelman_mpi built with NCCL.
#pragma once

#include <memory>

#include "elman/communicator.h"
#include "elman/context.h"

namespace elman {

// One NCCL communicator over the ranks of `bootstrap` (rank 0 draws NCCL's unique id and
// broadcasts it), each rank on its context's CUDA device (one device per rank: NCCL refuses
// two ranks on one GPU). allreduce_sum and broadcast take CUDA tensors on that device and are
// queued on the context's stream without synchronising it (sum-then-scale is one NCCL call,
// a pre-multiplied sum); the host collectives (small vectors, text, barrier, abort) go through
// `bootstrap`, which must outlive this object.
class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const Context& ctx, Communicator& bootstrap);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  // Through NCCL: CUDA buffers on the context's device, queued on its stream.
  void allreduce_sum(Tensor& buf, float scale = 1.0f) override;
  void broadcast(Tensor& buf, int root = 0) override;
  // The queued exchanges finished, then the bootstrap's barrier.
  void barrier() override;
  // NCCL's communicator aborted, then the bootstrap's abort.
  [[noreturn]] void abort(int status) override;

  // The ranks and the host collectives are the bootstrap's.
  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.size(); }
  void allreduce(std::vector<double>& v, ReduceOp op) override { bootstrap_.allreduce(v, op); }
  void allreduce(std::vector<int64_t>& v, ReduceOp op) override { bootstrap_.allreduce(v, op); }
  void broadcast(std::string& text, int root = 0) override { bootstrap_.broadcast(text, root); }

  struct Impl;  // the NCCL communicator (no NCCL or CUDA header here)

 private:
  Communicator& bootstrap_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace elman

// For programs that load libelman_mpi at run time (see elman_mpi_world_new): a new
// NcclCommunicator. Present only when libelman_mpi was built with NCCL. The caller owns it.
extern "C" elman::Communicator* elman_nccl_communicator_new(const elman::Context* ctx,
                                                            elman::Communicator* bootstrap);
