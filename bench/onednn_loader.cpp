// Loads the oneDNN plugin (libelman_bench_onednn.so, onednn_peer.cpp) at run time: elman-bench
// itself never links libdnnl, so it starts on machines without it (documented in onednn_peer.h).
#include <dlfcn.h>

#include <filesystem>

#include "bench/onednn_peer.h"

namespace elman::bench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPlugin = "libelman_bench_onednn.so";

// The plugin: beside the executable (the build folder), else wherever the loader finds it.
OnednnPeer* load(std::string* why) {
  if (!ELMAN_BENCH_ONEDNN_BUILT) {
    *why = "elman-bench was built without oneDNN (install Debian's libdnnl-dev and reconfigure)";
    return nullptr;
  }
  std::error_code ec;
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / kPlugin;
  const std::string path = !ec && fs::exists(beside) ? beside.string() : std::string(kPlugin);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open: never closed
  if (!handle) {
    const char* e = dlerror();
    *why = std::string("cannot load ") + path + ": " + (e ? e : "unknown error");
    return nullptr;
  }
  using Entry = OnednnPeer* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "elman_bench_onednn_peer"));
  if (!entry) {
    *why = path + " has no elman_bench_onednn_peer";
    return nullptr;
  }
  return entry();
}

}  // namespace

OnednnPeer* onednn_peer(std::string* why) {
  static std::string reason;
  static OnednnPeer* const peer = load(&reason);
  if (!peer && why) *why = reason;
  return peer;
}

}  // namespace elman::bench
