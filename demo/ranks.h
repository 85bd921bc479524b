// The ranks elman-train runs on: one process, or every rank of `mpirun -np N elman-train ...`
// (data-parallel training). Rank 0 alone prints and writes the run folder.
#pragma once

#include <elman/elman.h>

#include <memory>
#include <string>

namespace demo {

// Called first in main: when an MPI launcher started this process, loads libelman_mpi and
// joins the MPI job (elman::Error when the library is missing: a build without MPI), then on
// every rank but 0 sends stdout and stderr to /dev/null (errors that only one rank meets still
// reach the terminal: report_local_failure). Without a launcher: one process, nothing loaded.
void join_ranks();

// The job's ranks (a one-process communicator without MPI).
elman::Communicator& ranks();
inline bool is_rank0() { return ranks().rank() == 0; }

// What the trainer exchanges gradients through on `ctx`: the ranks themselves on the CPU (and
// on CUDA without NCCL, through host copies), NCCL on CUDA when built with it; null on one
// rank. Built once, on first use.
elman::Communicator* trainer_communicator(const elman::Context& ctx);

// The CUDA device this rank takes: its index among the ranks on its machine, modulo the
// machine's devices.
int local_device_index();

// For an error met outside the trainer's agreement, in a job of several ranks: prints it on
// the terminal's stderr with the rank's number and ends every rank (MPI_Abort), since the
// others may be waiting in a collective. Returns only in a one-process run.
void report_local_failure(const std::string& message);

}  // namespace demo
