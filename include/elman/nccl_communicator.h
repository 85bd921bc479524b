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

  int rank() const override;
  int size() const override;
  void allreduce_sum(Tensor& buf, float scale = 1.0f) override;
  void broadcast(Tensor& buf, int root = 0) override;
  void barrier() override;
  void allreduce(std::vector<double>& values, ReduceOp op) override;
  void allreduce(std::vector<int64_t>& values, ReduceOp op) override;
  void broadcast(std::string& text, int root = 0) override;
  [[noreturn]] void abort(int status) override;

  struct Impl;  // the NCCL communicator (no NCCL or CUDA header here)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace elman

// For programs that load libelman_mpi at run time (see elman_mpi_world_new): a new
// NcclCommunicator. Present only when libelman_mpi was built with NCCL. The caller owns it.
extern "C" elman::Communicator* elman_nccl_communicator_new(const elman::Context* ctx,
                                                            elman::Communicator* bootstrap);
