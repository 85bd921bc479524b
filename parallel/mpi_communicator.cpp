// elman::MpiCommunicator over OpenMPI (or any MPI-3 library): the collectives of data-parallel
// training on host buffers, CUDA buffers staged through the host.
#include "elman/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

namespace elman {

struct MpiCommunicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1, local_rank = 0;
};

namespace {

void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw Error(std::string("MpiCommunicator: ") + call + " failed: " + std::string(text, length));
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// MPI counts are int: larger buffers go in pieces of this many elements.
constexpr int64_t kChunk = INT_MAX / 2;

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kMin:
      return MPI_MIN;
    case ReduceOp::kMax:
      return MPI_MAX;
  }
  return MPI_SUM;
}

void broadcast_bytes(MPI_Comm comm, void* data, int64_t bytes, int root) {
  char* p = static_cast<char*>(data);
  for (int64_t at = 0; at < bytes; at += kChunk)
    check(MPI_Bcast(p + at, static_cast<int>(std::min(kChunk, bytes - at)), MPI_BYTE, root, comm),
          "MPI_Bcast");
}

// Reduce to rank 0, then broadcast: every rank ends with rank 0's bits (an all-reduce may add
// in a different order on each rank).
template <typename T>
void reduce_then_broadcast(MPI_Comm comm, int rank, T* data, int64_t n, MPI_Datatype type,
                           MPI_Op op) {
  for (int64_t at = 0; at < n; at += kChunk) {
    const int count = static_cast<int>(std::min(kChunk, n - at));
    check(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : data + at, data + at, count, type, op, 0, comm),
          "MPI_Reduce");
  }
  broadcast_bytes(comm, data, n * static_cast<int64_t>(sizeof(T)), 0);
}

void check_root(const char* call, int root, int size) {
  if (root < 0 || root >= size)
    throw Error(std::string("MpiCommunicator::") + call + ": root is " + std::to_string(root) +
                ", expected a rank from 0 to " + std::to_string(size - 1));
}

}  // namespace

bool MpiCommunicator::launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

MpiCommunicator::MpiCommunicator() : impl_(std::make_unique<Impl>()) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
  }
  Impl& m = *impl_;
  check(MPI_Comm_dup(MPI_COMM_WORLD, &m.comm), "MPI_Comm_dup");
  // Errors come back as status codes (elman::Error), not as MPI's default abort.
  MPI_Comm_set_errhandler(m.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(m.comm, &m.rank);
  MPI_Comm_size(m.comm, &m.size);
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(m.comm, MPI_COMM_TYPE_SHARED, m.rank, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  MPI_Comm_rank(node, &m.local_rank);
  MPI_Comm_free(&node);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && impl_->comm != MPI_COMM_NULL) MPI_Comm_free(&impl_->comm);
}

int MpiCommunicator::rank() const { return impl_->rank; }
int MpiCommunicator::size() const { return impl_->size; }
int MpiCommunicator::local_rank() const { return impl_->local_rank; }

void MpiCommunicator::allreduce_sum(Tensor& buf, float scale) {
  const int64_t n = buf.numel();
  if (n == 0) return;
  Tensor host = buf.device().is_cpu() ? buf : buf.to(Device::cpu());
  float* p = host.data();
  reduce_then_broadcast(impl_->comm, impl_->rank, p, n, MPI_FLOAT, MPI_SUM);
  if (scale != 1.0f)
    for (int64_t i = 0; i < n; ++i) p[i] *= scale;
  if (buf.device().is_cpu())
    buf.mark_modified();
  else
    buf.copy_from(host);
}

void MpiCommunicator::broadcast(Tensor& buf, int root) {
  check_root("broadcast", root, impl_->size);
  const int64_t n = buf.numel();
  if (n == 0) return;
  Tensor host = buf.device().is_cpu() ? buf : buf.to(Device::cpu());
  broadcast_bytes(impl_->comm, host.data(), n * static_cast<int64_t>(sizeof(float)), root);
  if (buf.device().is_cpu())
    buf.mark_modified();
  else
    buf.copy_from(host);
}

void MpiCommunicator::barrier() { check(MPI_Barrier(impl_->comm), "MPI_Barrier"); }

void MpiCommunicator::allreduce(std::vector<double>& values, ReduceOp op) {
  reduce_then_broadcast(impl_->comm, impl_->rank, values.data(),
                        static_cast<int64_t>(values.size()), MPI_DOUBLE, mpi_op(op));
}

void MpiCommunicator::allreduce(std::vector<int64_t>& values, ReduceOp op) {
  reduce_then_broadcast(impl_->comm, impl_->rank, values.data(),
                        static_cast<int64_t>(values.size()), MPI_INT64_T, mpi_op(op));
}

void MpiCommunicator::broadcast(std::string& text, int root) {
  check_root("broadcast", root, impl_->size);
  int64_t length = static_cast<int64_t>(text.size());
  broadcast_bytes(impl_->comm, &length, sizeof length, root);
  text.resize(static_cast<size_t>(length));
  broadcast_bytes(impl_->comm, text.data(), length, root);
}

void MpiCommunicator::abort(int status) {
  MPI_Abort(impl_->comm, status);
  std::_Exit(status);  // MPI_Abort does not return; should it, the process still ends
}

}  // namespace elman

extern "C" elman::Communicator* elman_mpi_world_new(int* local_rank) {
  auto world = std::make_unique<elman::MpiCommunicator>();
  if (local_rank != nullptr) *local_rank = world->local_rank();
  return world.release();
}
