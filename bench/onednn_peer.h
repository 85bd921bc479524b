// oneDNN's vanilla RNN primitive as elman-bench's second CPU peer (PyTorch's nn.RNN does not use
// it): the same model built from elman's weights, its results for the agreement check, and the
// calls the bench times. Built only where libdnnl is found; otherwise every use says so.
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

// Whether elman-bench was built with oneDNN; its version, threading and thread count
// ("oneDNN 2.6.3 (OpenMP runtime)"), or why it is not available.
bool onednn_available();
std::string onednn_description();
// Gives oneDNN (its OpenMP runtime) `threads` threads and returns the count it will use; 0
// without oneDNN.
int onednn_set_threads(int threads);

// oneDNN's model of one full-sequence shape (time-major, unidirectional or bidirectional, any
// number of layers, tanh or relu, with or without biases: oneDNN 2.6 needs a bias, so a model
// without gets a zero one), set up once so that each timed call
// is the primitives' execute and the stream's wait, nothing else: the primitives (inference,
// training forward, backward) are created here, elman's weights converted to oneDNN's layouts
// (onednn_layout.h) and reordered into the layout each primitive prefers, the input sets copied
// and every argument list built. Reorders of the weight gradients back to the user's layout
// happen only in results(), never in a timed call.
class OnednnRNN {
 public:
  // Throws elman::Error naming the reason when oneDNN cannot run the model: no oneDNN in this
  // build, batch_first, or a configuration its primitives refuse.
  OnednnRNN(const RNNOptions& options, int64_t seq_len, int64_t batch,
            const std::vector<float>& params, const std::vector<CpuInputSet>& sets);
  ~OnednnRNN();
  OnednnRNN(const OnednnRNN&) = delete;
  OnednnRNN& operator=(const OnednnRNN&) = delete;

  // Input set `set`'s results: inference, training forward, and a backward from zero gradients.
  PeerResults results(size_t set);
  // The weight gradients accumulated so far, in elman's flat order (reordered back from the
  // backward primitive's layouts).
  std::vector<float> weight_grads();
  void inference(size_t set);
  void train_forward(size_t set);
  // Backward of train_forward(set), which must be the last training forward; weight gradients
  // accumulate across calls, as elman's and PyTorch's do.
  void backward(size_t set);

  std::string implementation() const;  // oneDNN's name of its implementation ("ref", ...)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// oneDNN's streaming step: a forward-inference primitive of seqLength 1 per layer group, the
// state carried between steps in two buffers used in turn (no copy). Unidirectional models only.
class OnednnStream {
 public:
  // Throws elman::Error as OnednnRNN does.
  OnednnStream(const RNNOptions& options, int64_t batch, const std::vector<float>& params);
  ~OnednnStream();
  OnednnStream(const OnednnStream&) = delete;
  OnednnStream& operator=(const OnednnStream&) = delete;

  void reset(const std::vector<float>& h0);  // the state <- h0 [L, B, H]
  // One step on x_t [B, I], which is read in place (not copied) and must stay alive during it.
  void step(const float* x_t);
  std::vector<float> output() const;  // [B, H]: the last step's output
  std::vector<float> state() const;   // [L, B, H]

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace elman::bench
