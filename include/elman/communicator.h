// elman::Communicator: what data-parallel training needs from a group of processes (all-reduce,
// broadcast, barrier, small host reductions), and the one-process implementation, SingleProcess.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elman/error.h"
#include "elman/tensor.h"

namespace elman {

enum class ReduceOp { kSum, kMin, kMax };

// The ranks 0..size()-1 of one training job, one process each. Every collective call must be
// made by every rank, in the same order, with the same sizes (MPI's and NCCL's rule); the
// results are bitwise the same on every rank. Implementations: SingleProcess (here, in
// libelman), MpiCommunicator (libelman_mpi, CPU buffers; CUDA buffers through host copies)
// and NcclCommunicator (libelman_mpi built with NCCL, CUDA buffers on the context's stream).
class Communicator {
 public:
  virtual ~Communicator();
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // buf = scale * (the sum of every rank's buf), in place, elementwise.
  virtual void allreduce_sum(Tensor& buf, float scale = 1.0f) = 0;
  // buf = root's buf, on every rank.
  virtual void broadcast(Tensor& buf, int root = 0) = 0;
  virtual void barrier() = 0;

  // Small vectors on the host (losses, metrics, counts, status flags), reduced elementwise.
  virtual void allreduce(std::vector<double>& values, ReduceOp op) = 0;
  virtual void allreduce(std::vector<int64_t>& values, ReduceOp op) = 0;
  // text = root's text, on every rank (any bytes, any length).
  virtual void broadcast(std::string& text, int root = 0) = 0;

  // Ends every rank of the job now, with `status` (MPI_Abort): for a failure met where the
  // other ranks may be waiting in a collective. SingleProcess exits the process.
  [[noreturn]] virtual void abort(int status) = 0;
};

// One process: rank 0 of 1. Every collective leaves its data as it is (a sum over one rank;
// scale still applies) and returns at once.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(Tensor& buf, float scale = 1.0f) override;
  void broadcast(Tensor&, int root = 0) override;
  void barrier() override {}
  void allreduce(std::vector<double>&, ReduceOp) override {}
  void allreduce(std::vector<int64_t>&, ReduceOp) override {}
  void broadcast(std::string&, int root = 0) override;
  [[noreturn]] void abort(int status) override;
};

// Thrown identically on every rank when the ranks agreed to stop because one of them failed:
// the message names the failing rank and says what went wrong there. A program that catches it
// on rank 0 alone and prints it prints the failure once.
class CollectiveError : public Error {
 public:
  CollectiveError(const std::string& message, int failed_rank)
      : Error(message), failed_rank_(failed_rank) {}
  int failed_rank() const { return failed_rank_; }

 private:
  int failed_rank_;
};

// The agreement step that keeps a failing rank from leaving the others waiting in a collective:
// every rank calls it at the same point with what went wrong on it ("" when nothing did). When
// no rank failed it returns; otherwise every rank throws CollectiveError with the message of
// the lowest failing rank, prefixed by `call` and that rank's number. Costs one small
// all-reduce (and a broadcast of the message when one failed).
void agree_on_failure(Communicator& comm, const std::string& call,
                      const std::string& local_failure);

// The contiguous shard of `count` items that `rank` of `size` ranks takes: the first
// count % size ranks one item more. Returns {offset, length}.
struct Shard {
  int64_t offset = 0, length = 0;
};
Shard shard_of(int64_t count, int rank, int size);

}  // namespace elman
