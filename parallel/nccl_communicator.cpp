// elman::NcclCommunicator: NCCL collectives on CUDA buffers, queued on the context's stream,
// bootstrapped (unique id) and helped with host collectives by another communicator.
#include "elman/nccl_communicator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "parallel/nccl_api.h"

namespace elman {

struct NcclCommunicator::Impl {
  const detail::NcclApi* api = nullptr;
  Context ctx;
  ncclComm_t comm = nullptr;
};

namespace {

void check(ncclResult_t status, const char* call) {
  if (status != ncclSuccess)
    throw Error(std::string("NcclCommunicator: ") + call +
                " failed: " + detail::nccl_api().get_error_string(status));
}

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw Error(std::string("NcclCommunicator: ") + call +
                " failed: " + cudaGetErrorString(status));
}

// The buffer must be a CUDA tensor on the communicator's device.
void check_buffer(const char* call, const Tensor& buf, const Context& ctx) {
  if (buf.defined() && !(buf.device() == ctx.device()))
    throw Error(std::string("NcclCommunicator::") + call + ": the buffer is on " +
                (buf.device().is_cpu() ? std::string("the CPU")
                                       : "cuda:" + std::to_string(buf.device().index)) +
                ", expected cuda:" + std::to_string(ctx.device().index) +
                " (the communicator's context)");
}

}  // namespace

NcclCommunicator::NcclCommunicator(const Context& ctx, Communicator& bootstrap)
    : bootstrap_(bootstrap), impl_(std::make_unique<Impl>()) {
  if (!ctx.device().is_cuda())
    throw Error(
        "NcclCommunicator: the context is on the CPU; NCCL exchanges CUDA buffers "
        "(use MpiCommunicator on the CPU)");
  Impl& m = *impl_;
  m.api = &detail::nccl_api();  // every rank, before any collective: a missing NCCL throws here
  m.ctx = ctx;
  ncclUniqueId id{};
  std::string bytes;
  if (bootstrap.rank() == 0) {
    check(m.api->get_unique_id(&id), "ncclGetUniqueId");
    bytes.assign(reinterpret_cast<const char*>(&id), sizeof id);
  }
  bootstrap.broadcast(bytes, 0);
  if (bytes.size() != sizeof id)
    throw Error("NcclCommunicator: rank 0's unique id has " + std::to_string(bytes.size()) +
                " bytes, expected " + std::to_string(sizeof id));
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&id));
  check(cudaSetDevice(ctx.device().index), "cudaSetDevice");
  check(m.api->comm_init_rank(&m.comm, bootstrap.size(), id, bootstrap.rank()), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() {
  if (impl_->comm != nullptr) impl_->api->comm_destroy(impl_->comm);
}

void NcclCommunicator::allreduce_sum(Tensor& buf, float scale) {
  Impl& m = *impl_;
  check_buffer("allreduce_sum", buf, m.ctx);
  if (buf.numel() == 0) return;
  cudaStream_t stream = m.ctx.stream();
  check(cudaSetDevice(m.ctx.device().index), "cudaSetDevice");
  if (scale == 1.0f) {
    check(m.api->all_reduce(buf.data(), buf.data(), static_cast<size_t>(buf.numel()), ncclFloat,
                            ncclSum, m.comm, stream),
          "ncclAllReduce");
  } else {  // scale * sum, in one pass: NCCL multiplies each rank's input by the host scalar
    ncclRedOp_t op;
    check(m.api->red_op_create_pre_mul_sum(&op, &scale, ncclFloat, ncclScalarHostImmediate, m.comm),
          "ncclRedOpCreatePreMulSum");
    const ncclResult_t status = m.api->all_reduce(
        buf.data(), buf.data(), static_cast<size_t>(buf.numel()), ncclFloat, op, m.comm, stream);
    m.api->red_op_destroy(op, m.comm);
    check(status, "ncclAllReduce");
  }
  buf.mark_modified();
}

void NcclCommunicator::broadcast(Tensor& buf, int root) {
  Impl& m = *impl_;
  check_buffer("broadcast", buf, m.ctx);
  if (root < 0 || root >= size())
    throw Error("NcclCommunicator::broadcast: root is " + std::to_string(root) +
                ", expected a rank from 0 to " + std::to_string(size() - 1));
  if (buf.numel() == 0) return;
  check(cudaSetDevice(m.ctx.device().index), "cudaSetDevice");
  check(m.api->broadcast(buf.data(), buf.data(), static_cast<size_t>(buf.numel()), ncclFloat, root,
                         m.comm, m.ctx.stream()),
        "ncclBroadcast");
  buf.mark_modified();
}

void NcclCommunicator::barrier() {
  impl_->ctx.synchronize();  // this rank's queued exchanges are done, then the host barrier
  bootstrap_.barrier();
}

void NcclCommunicator::abort(int status) {
  if (impl_->comm != nullptr) impl_->api->comm_abort(impl_->comm);
  impl_->comm = nullptr;
  bootstrap_.abort(status);
  std::_Exit(status);  // not reached: the bootstrap's abort ends the process
}

}  // namespace elman

extern "C" elman::Communicator* elman_nccl_communicator_new(const elman::Context* ctx,
                                                            elman::Communicator* bootstrap) {
  return std::make_unique<elman::NcclCommunicator>(*ctx, *bootstrap).release();
}
