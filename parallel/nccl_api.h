// NCCL's functions as NcclCommunicator uses them, loaded at run time (dlopen of libnccl.so.2),
// so that libelman_mpi and elman-train start on machines without NCCL (200 MB) and fail only
// when a NcclCommunicator is made.
#pragma once

#include <nccl.h>

namespace elman::detail {

struct NcclApi {
  decltype(&ncclGetErrorString) get_error_string;
  decltype(&ncclGetUniqueId) get_unique_id;
  decltype(&ncclCommInitRank) comm_init_rank;
  decltype(&ncclCommDestroy) comm_destroy;
  decltype(&ncclCommAbort) comm_abort;
  decltype(&ncclAllReduce) all_reduce;
  decltype(&ncclBroadcast) broadcast;
  decltype(&ncclRedOpCreatePreMulSum) red_op_create_pre_mul_sum;
  decltype(&ncclRedOpDestroy) red_op_destroy;
};

// Loads libnccl.so.2 once per process (the loader's search path: LD_LIBRARY_PATH, ldconfig's
// cache, the RUNPATH of libelman_mpi); throws elman::Error saying where it looked and how to
// install NCCL when it or a function is missing.
const NcclApi& nccl_api();

}  // namespace elman::detail
