// load_cudnn: dlopen + dlsym of the functions listed in cudnn_api.h, once per process.
#include "bench/cudnn_api.h"

#include <dlfcn.h>
#include <link.h>

#include <mutex>

namespace elman::bench {

const CudnnApi* load_cudnn(std::string* why) {
  static CudnnApi api;
  static std::string error;
  static bool loaded = false;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = nullptr;
    std::string tried;
    for (const char* name : {"libcudnn.so.9", "libcudnn.so"}) {
      lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
      if (lib) break;
      const char* e = dlerror();
      tried += std::string(tried.empty() ? "" : "; ") + (e ? e : name);
    }
    if (!lib) {
      error = "cannot load cuDNN (" + tried +
              "); put the directory of libcudnn.so.9 on LD_LIBRARY_PATH (PyTorch's wheels keep "
              "it in site-packages/nvidia/cudnn/lib; bench/gpu-check.sh finds it)";
      return;
    }
#define ELMAN_CUDNN_RESOLVE(name)                                              \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name));          \
  if (!api.name) {                                                             \
    error = std::string("cuDNN library lacks ") + #name + " (cuDNN 9 needed)"; \
    return;                                                                    \
  }
    ELMAN_CUDNN_FUNCTIONS(ELMAN_CUDNN_RESOLVE)
#undef ELMAN_CUDNN_RESOLVE
    link_map* map = nullptr;
    api.library = dlinfo(lib, RTLD_DI_LINKMAP, &map) == 0 && map ? map->l_name : "libcudnn.so.9";
    api.version = api.cudnnGetVersion();
    if (api.version / 10000 != CUDNN_MAJOR) {
      error = "cuDNN " + std::to_string(api.version) + " loaded from " + api.library +
              ", but elman-bench was built against cuDNN " + std::to_string(CUDNN_MAJOR);
      return;
    }
    loaded = true;
  });
  if (!loaded && why) *why = error;
  return loaded ? &api : nullptr;
}

}  // namespace elman::bench
