// nccl_api(): libnccl.so.2 opened with dlopen and its functions found with dlsym, once.
#include "parallel/nccl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>
#include <type_traits>

#include "elman/error.h"

namespace elman::detail {

namespace {

NcclApi load() {
  void* lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);  // kept open: never closed
  if (lib == nullptr)
    throw Error(std::string("NcclCommunicator: cannot load libnccl.so.2 (") + dlerror() +
                "); install NCCL (the CUDA toolkit's, or pip install nvidia-nccl-cu13 and add its "
                "nvidia/nccl/lib to LD_LIBRARY_PATH)");
  NcclApi api{};
  auto find = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (fn == nullptr)
      throw Error(std::string("NcclCommunicator: libnccl.so.2 lacks ") + name +
                  " (NCCL 2.11 or newer is needed)");
  };
  find(api.get_error_string, "ncclGetErrorString");
  find(api.get_unique_id, "ncclGetUniqueId");
  find(api.comm_init_rank, "ncclCommInitRank");
  find(api.comm_destroy, "ncclCommDestroy");
  find(api.comm_abort, "ncclCommAbort");
  find(api.all_reduce, "ncclAllReduce");
  find(api.broadcast, "ncclBroadcast");
  find(api.red_op_create_pre_mul_sum, "ncclRedOpCreatePreMulSum");
  find(api.red_op_destroy, "ncclRedOpDestroy");
  return api;
}

}  // namespace

const NcclApi& nccl_api() {
  static std::mutex mutex;
  static NcclApi api{};
  static bool loaded = false;
  const std::lock_guard<std::mutex> lock(mutex);
  if (!loaded) {  // a failed load throws and is tried again by the next caller
    api = load();
    loaded = true;
  }
  return api;
}

}  // namespace elman::detail
