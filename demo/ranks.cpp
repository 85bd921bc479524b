// elman-train's ranks: the MPI job it joins under mpirun (libelman_mpi, loaded at run time so
// that a one-process run needs no MPI library), the communicator its trainer exchanges
// gradients through, and rank 0's sole right to print.
#include "ranks.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

// The entry points of libelman_mpi (elman/mpi_communicator.h, elman/nccl_communicator.h).
extern "C" {
using MpiWorldNew = elman::Communicator* (*)(int* local_rank);
using NcclNew = elman::Communicator* (*)(const elman::Context* ctx, elman::Communicator* bootstrap);
}

namespace demo {
namespace {

elman::SingleProcess g_single;
std::unique_ptr<elman::Communicator> g_world;    // the MPI job, when there is one
std::unique_ptr<elman::Communicator> g_trainer;  // NCCL over g_world, on CUDA when built with it
void* g_library = nullptr;                       // libelman_mpi, once loaded (never closed)
int g_stderr = 2;                                // the terminal's stderr on every rank
int g_local_rank = 0;

// The variables OpenMPI, MPICH/PMI and PMIx set in the processes their launcher starts.
const char* mpi_launcher_variable() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v) != nullptr) return v;
  return nullptr;
}

// libelman_mpi.so.0 beside libelman (installed: both in lib/) or in its build's parallel/, then
// wherever the loader finds it. (An explicit path: under AddressSanitizer, dlopen does not see
// the executable's RUNPATH.)
void* load_libelman_mpi() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&elman::cuda_device_count), &info) != 0 &&
      info.dli_fname != nullptr) {
    std::string dir = info.dli_fname;
    dir = dir.substr(0, dir.find_last_of('/') + 1);
    for (const char* sub : {"", "parallel/"})
      if (void* lib = dlopen((dir + sub + "libelman_mpi.so.0").c_str(), RTLD_NOW | RTLD_GLOBAL))
        return lib;
  }
  return dlopen("libelman_mpi.so.0", RTLD_NOW | RTLD_GLOBAL);
}

}  // namespace

void join_ranks() {
  const char* launcher = mpi_launcher_variable();
  if (launcher == nullptr) return;  // one process, no MPI library loaded
  g_library = load_libelman_mpi();
  if (g_library == nullptr)
    throw elman::Error(std::string("started by an MPI launcher (") + launcher +
                       " is set), but libelman_mpi.so.0 cannot be loaded (" + dlerror() +
                       "): build elman with MPI (apt-get install libopenmpi-dev openmpi-bin, "
                       "ELMAN_WITH_MPI), or run elman-train without mpirun");
  auto world_new = reinterpret_cast<MpiWorldNew>(dlsym(g_library, "elman_mpi_world_new"));
  if (world_new == nullptr)
    throw elman::Error("libelman_mpi.so.0 lacks elman_mpi_world_new (another elman's library?)");
  g_world.reset(world_new(&g_local_rank));
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
  if (!ctx.device().is_cuda()) return &ranks();
  if (!g_trainer) {
    auto nccl_new = reinterpret_cast<NcclNew>(dlsym(g_library, "elman_nccl_communicator_new"));
    if (nccl_new == nullptr) {
      if (is_rank0())
        std::cerr << "elman-train: libelman_mpi was built without NCCL: the gradients of CUDA "
                     "ranks go through host copies and MPI (slow; build with NCCL for GPUs)\n";
      return &ranks();
    }
    g_trainer.reset(nccl_new(&ctx, &ranks()));
  }
  return g_trainer.get();
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
