// elman::MpiCommunicator: the ranks of an MPI job (mpirun -np N) as an elman::Communicator, in
// libelman_mpi (target elman::mpi), so that libelman itself never needs MPI.
#pragma once

#include <memory>

#include "elman/communicator.h"

namespace elman {

// A duplicate of MPI_COMM_WORLD (the job's ranks; elman's messages never mix with the
// program's own). The first one constructed initialises MPI when the program has not
// (MPI_Init_thread, funneled) and finalises it at exit; a program that initialised MPI itself
// finalises it itself, after the communicators are gone.
//
// Buffers: CPU tensors directly; CUDA tensors through a host copy (synchronises: correct on any
// MPI, slow; NcclCommunicator is the GPU path). Float sums are reduced to rank 0 and broadcast
// back, so every rank holds bitwise the same result whatever the number of ranks (an MPI
// all-reduce may add in another order on each rank, and replicas would drift apart).
// MPI failures throw elman::Error naming the call and MPI's message.
class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator();
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  // Whether this process was started by an MPI launcher (mpirun, mpiexec, srun): the
  // environment variables OpenMPI, MPICH/PMI and PMIx set. Reads no MPI state.
  static bool launched_by_mpi();

  int rank() const override;
  int size() const override;
  // This rank's index among the ranks on its own machine (which GPU it takes).
  int local_rank() const;

  void allreduce_sum(Tensor& buf, float scale = 1.0f) override;
  void broadcast(Tensor& buf, int root = 0) override;
  void barrier() override;
  void allreduce(std::vector<double>& values, ReduceOp op) override;
  void allreduce(std::vector<int64_t>& values, ReduceOp op) override;
  void broadcast(std::string& text, int root = 0) override;
  [[noreturn]] void abort(int status) override;

  struct Impl;  // the MPI communicators (no MPI header here)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace elman

// For programs that load libelman_mpi at run time (dlopen, so that they start without MPI's
// libraries when not launched by mpirun; elman-train does): a new MpiCommunicator, its local
// rank in *local_rank. The caller owns the result.
extern "C" elman::Communicator* elman_mpi_world_new(int* local_rank);
