// elman-train's ranks: the MPI job it joins under mpirun (when built with MPI), the
// communicator its trainer exchanges gradients through, and rank 0's sole right to print.
#include "ranks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#ifdef ELMAN_HAVE_MPI
#include <elman/mpi_communicator.h>
#endif
#ifdef ELMAN_HAVE_NCCL
#include <elman/nccl_communicator.h>
#endif

namespace demo {
namespace {

elman::SingleProcess g_single;
std::unique_ptr<elman::Communicator> g_world;    // the MPI job, when there is one
std::unique_ptr<elman::Communicator> g_trainer;  // NCCL over g_world, when built and on CUDA
int g_stderr = 2;                                // the terminal's stderr on every rank
int g_local_rank = 0;

}  // namespace

void join_ranks() {
#ifdef ELMAN_HAVE_MPI
  if (elman::MpiCommunicator::launched_by_mpi()) {
    auto world = std::make_unique<elman::MpiCommunicator>();
    g_local_rank = world->local_rank();
    g_world = std::move(world);
  }
#else
  // Started by mpirun without MPI built in, each process would train alone, N times over.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* n = std::getenv(v);
    if (n != nullptr && std::atoi(n) > 1)
      throw elman::Error(std::string("started by an MPI launcher (") + v + "=" + n +
                         "), but this elman-train was built without MPI (ELMAN_WITH_MPI): each "
                         "process would train alone; rebuild with libopenmpi-dev installed");
  }
#endif
  if (ranks().rank() == 0) return;
  std::fflush(stdout);
  std::fflush(stderr);
  g_stderr = dup(2);
  const int null = open("/dev/null", O_WRONLY);
  if (null >= 0) {
    dup2(null, 1);
    dup2(null, 2);
    close(null);
  }
}

elman::Communicator& ranks() { return g_world ? *g_world : g_single; }

int local_device_index() {
  const int count = elman::cuda_device_count();
  return count > 0 ? g_local_rank % count : 0;
}

elman::Communicator* trainer_communicator(const elman::Context& ctx) {
  if (ranks().size() == 1) return nullptr;
#ifdef ELMAN_HAVE_NCCL
  if (ctx.device().is_cuda()) {
    if (!g_trainer) g_trainer = std::make_unique<elman::NcclCommunicator>(ctx, ranks());
    return g_trainer.get();
  }
#else
  if (ctx.device().is_cuda() && is_rank0())
    std::cerr << "elman-train: built without NCCL: the gradients of CUDA ranks go through host "
                 "copies and MPI (slow; build with NCCL for GPUs)\n";
#endif
  return &ranks();
}

void report_local_failure(const std::string& message) {
  if (ranks().size() == 1) {
    std::cerr << "elman-train: " << message << "\n";
    return;
  }
  const std::string line = "elman-train (rank " + std::to_string(ranks().rank()) + " of " +
                           std::to_string(ranks().size()) + "): " + message + "\n";
  if (write(g_stderr, line.data(), line.size()) < 0) {
    // Nothing else to tell: the job ends below either way.
  }
  ranks().abort(1);
}

}  // namespace demo
