// The oneDNN peer where elman-bench was built without libdnnl (onednn_peer.h): it is reported
// as not available, and constructing its model throws, saying why.
#include "bench/onednn_peer.h"
#include "elman/error.h"

namespace elman::bench {

namespace {
const char* const kWhy =
    "elman-bench was built without oneDNN (install Debian's libdnnl-dev and reconfigure)";
}

bool onednn_available() { return false; }
std::string onednn_description() { return std::string("not available: ") + kWhy; }
int onednn_set_threads(int) { return 0; }

struct OnednnRNN::Impl {};
OnednnRNN::OnednnRNN(const RNNOptions&, int64_t, int64_t, const std::vector<float>&,
                     const std::vector<CpuInputSet>&) {
  throw Error(std::string("OnednnRNN: ") + kWhy);
}
OnednnRNN::~OnednnRNN() = default;
PeerResults OnednnRNN::results(size_t) { return {}; }
std::vector<float> OnednnRNN::weight_grads() { return {}; }
void OnednnRNN::inference(size_t) {}
void OnednnRNN::train_forward(size_t) {}
void OnednnRNN::backward(size_t) {}
std::string OnednnRNN::implementation() const { return ""; }

struct OnednnStream::Impl {};
OnednnStream::OnednnStream(const RNNOptions&, int64_t, const std::vector<float>&) {
  throw Error(std::string("OnednnStream: ") + kWhy);
}
OnednnStream::~OnednnStream() = default;
void OnednnStream::reset(const std::vector<float>&) {}
void OnednnStream::step(const float*) {}
std::vector<float> OnednnStream::output() const { return {}; }
std::vector<float> OnednnStream::state() const { return {}; }

}  // namespace elman::bench
