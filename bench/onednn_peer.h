// oneDNN's vanilla RNN primitive as elman-bench's second CPU peer (PyTorch's nn.RNN does not use
// it): the same model from elman's weights, its results for the agreement check and the calls the
// bench times. A plugin (onednn_peer.cpp + libdnnl), loaded at run time (onednn_loader.cpp), so
// elman-bench starts where libdnnl is absent (a GPU machine a build is carried to) and says so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "elman/rnn.h"

namespace elman::bench {

// One input set of a shape as elman ran it (host copies, time-major).
struct CpuInputSet {
  std::vector<float> x;    // [T, B, I]
  std::vector<float> h0;   // [L*D, B, H]
  std::vector<float> dy;   // [T, B, D*H], the gradient entering the output
  std::vector<float> dhy;  // [L*D, B, H], the gradient entering h_n
};

// What a CPU peer computed on one input set, in elman's layouts, for the agreement check.
struct PeerResults {
  std::vector<float> y_inference, y;  // [T, B, D*H]: inference and training forward
  std::vector<float> h_n, dx, dh0;    // [L*D, B, H], [T, B, I], [L*D, B, H]
  std::vector<float> dw;  // parameter gradients of one backward from zero, elman's flat order
};

// oneDNN's model of one full-sequence shape (time-major, unidirectional or bidirectional, any
// number of layers, tanh or relu, with or without biases: oneDNN 2.6 needs a bias, so a model
// without gets a zero one), set up once so that each timed call is the primitives' execute and
// the stream's wait, nothing else: the primitives (inference, training forward, backward) are
// created with it, elman's weights converted to oneDNN's layouts (onednn_layout.h) and reordered
// into the layout each primitive prefers, the input sets copied and every argument list built.
// Reorders of the weight gradients back to the user's layout happen only in results() and
// weight_grads(), never in a timed call.
class OnednnRNN {
 public:
  virtual ~OnednnRNN() = default;
  // Input set `set`'s results: inference, training forward, and a backward from zero gradients.
  virtual PeerResults results(size_t set) = 0;
  // The weight gradients accumulated so far, in elman's flat order.
  virtual std::vector<float> weight_grads() = 0;
  virtual void inference(size_t set) = 0;
  virtual void train_forward(size_t set) = 0;
  // Backward of train_forward(set), which must be the last training forward; weight gradients
  // accumulate across calls, as elman's and PyTorch's do.
  virtual void backward(size_t set) = 0;
  virtual std::string implementation() const = 0;  // oneDNN's name for it ("ref", ...)
};

// oneDNN's streaming step: a forward-inference primitive of seqLength 1 per layer group, the
// state carried between steps in two buffers used in turn (no copy). Unidirectional models only.
class OnednnStream {
 public:
  virtual ~OnednnStream() = default;
  virtual void reset(const std::vector<float>& h0) = 0;  // the state <- h0 [L, B, H]
  // One step on x_t [B, I], which is read in place (not copied) and must stay alive during it.
  virtual void step(const float* x_t) = 0;
  virtual std::vector<float> output() const = 0;  // [B, H]: the last step's output
  virtual std::vector<float> state() const = 0;   // [L, B, H]
};

// What the plugin provides. Its make_* throw elman::Error naming the reason when oneDNN cannot
// run the model (batch_first; bidirectional streaming; a configuration its primitives refuse).
class OnednnPeer {
 public:
  virtual ~OnednnPeer() = default;
  virtual std::string description() const = 0;  // its version and runtime: "2.6.3 (OpenMP runtime)"
  // Gives oneDNN (its OpenMP runtime) `threads` threads; returns the count it will use.
  virtual int set_threads(int threads) = 0;
  virtual std::unique_ptr<OnednnRNN> make_rnn(const RNNOptions& options, int64_t seq_len,
                                              int64_t batch, const std::vector<float>& params,
                                              const std::vector<CpuInputSet>& sets) const = 0;
  virtual std::unique_ptr<OnednnStream> make_stream(const RNNOptions& options, int64_t batch,
                                                    const std::vector<float>& params) const = 0;
};

// The plugin's peer, loaded on first use and kept: libelman_bench_onednn.so from the executable's
// folder (where the build puts it), else from the library path. nullptr when there is none, with
// *why saying so: a build without oneDNN, or a machine without libdnnl (dlopen's message).
OnednnPeer* onednn_peer(std::string* why);

}  // namespace elman::bench
