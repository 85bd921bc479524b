// elman::RNN: a multi-layer, optionally bidirectional Elman RNN with torch.nn.RNN's arguments,
// parameter names, shapes, initialisation, inputs and outputs. Forward, and BPTT backward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "elman/context.h"
#include "elman/module.h"
#include "elman/tensor.h"

namespace elman {

namespace detail {
struct CacheState;  // host/rnn_state.h
}

enum class Nonlinearity { kTanh, kReLU };
std::string nonlinearity_name(Nonlinearity n);             // "tanh", "relu"
Nonlinearity parse_nonlinearity(const std::string& name);  // throws on anything else

// How the recurrence (the time loop of each layer and direction) is computed, chosen per model
// like cuDNN's algorithms; every one gives the same results within float rounding.
// - kStandard: per step one GEMM (BLAS, cuBLAS) and one element-wise kernel; every device.
// - kFused: per step one pass of SIMD kernels computing f(pre_t + b + W_hh h_{t-1}), threads
//   splitting the hidden units, the instruction set (AVX-512, AVX2, SSE2/NEON) chosen at run
//   time; CPU only.
// - kFusedStep: per step one kernel computing f(pre_t + b + W_hh h_{t-1}) (backward: delta_t and
//   W_hh^T delta_t) without cuBLAS, for small batches; CUDA only.
// - kPersistent: one cooperative kernel runs all steps of a layer's direction, each block
//   keeping its slice of W_hh in shared memory; CUDA only. Both run the standard recurrence
//   where a shape exceeds the GPU's shared memory (README "Algorithms" gives the limits).
// - kGraph: kStandard's step loop captured in a CUDA graph once per shape, lengths and buffers,
//   and replayed; CUDA only (on the legacy default stream, which cannot be captured, kStandard).
// - kAuto: kFused on the CPU, kStandard on CUDA (README "Algorithms").
enum class Algorithm { kAuto, kStandard, kFused, kFusedStep, kPersistent, kGraph };
// "auto", "standard", "fused", "fused-step", "persistent", "graph"
std::string algorithm_name(Algorithm a);
Algorithm parse_algorithm(const std::string& name);  // throws on anything else

// torch.nn.RNN's constructor arguments, same names, same meaning, same defaults.
struct RNNOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  Nonlinearity nonlinearity = Nonlinearity::kTanh;
  bool bias = true;
  bool batch_first = false;
  bool bidirectional = false;
  // PyTorch's dropout: in forward_train, the outputs of every layer but the last are zeroed with
  // probability `dropout` and the rest scaled by 1 / (1 - dropout) before the next layer reads
  // them; forward() never drops. In [0, 1); 0 is bitwise no dropout.
  float dropout = 0.0f;

  // Limits validate() enforces: BLAS takes int sizes, and layers are described one by one.
  static constexpr int64_t kMaxFeatureSize = 2147483647;  // input_size, hidden_size
  static constexpr int64_t kMaxLayers = 65536;

  int64_t num_directions() const { return bidirectional ? 2 : 1; }
  // Width of layer `layer`'s input: input_size for layer 0, D * hidden_size above.
  int64_t layer_input_size(int64_t layer) const;
  void validate() const;  // throws elman::Error naming the bad argument
};

// torch.nn.RNN's two results.
struct RNNOutput {
  Tensor output;  // [T, B, D*H], or [B, T, D*H] with batch_first; [T, D*H] for unbatched input
  Tensor h_n;     // [num_layers * D, B, H], index l * D + d; [num_layers * D, H] unbatched
};

// Gradients w.r.t. the inputs of forward_train (parameter gradients go to RNN::grad()).
struct RNNInputGrads {
  Tensor grad_input;  // shape of input
  Tensor grad_h0;     // [num_layers * D, B, H] (zeros' gradient when h0 was omitted)
};

// What a training-mode forward saves for backward. Opaque; reusable across steps (its buffers
// are kept and only grow), so a training loop allocates nothing after its first step.
class RNNCache {
 public:
  RNNCache();
  ~RNNCache();
  RNNCache(RNNCache&&) noexcept;
  RNNCache& operator=(RNNCache&&) noexcept;
  // True after a forward_train. A forward_train that fails its argument checks leaves the
  // cache as it was; one that fails later (a device error) leaves it invalid.
  bool valid() const;

 private:
  friend class RNN;  // the only reader and writer of the state
  detail::CacheState& state() { return *state_; }
  const detail::CacheState& state() const { return *state_; }
  std::unique_ptr<detail::CacheState> state_;
};

class RNN : public Module {
 public:
  // Parameters are created on ctx's device and initialised like PyTorch's: each drawn from
  // U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), from a generator seeded with `seed`.
  // The model keeps its own copy of the context handle (it may outlive `ctx`).
  // Sizes whose parameters or buffers cannot be counted or allocated throw elman::Error.
  RNN(const Context& ctx, const RNNOptions& options, uint64_t seed = 0);
  ~RNN();
  // A moved-from RNN throws elman::Error from every call that computes.
  RNN(RNN&&) noexcept;

  const RNNOptions& options() const { return options_; }

  // The recurrence's algorithm for every later call (kAuto by default). Throws elman::Error for
  // one the model's device lacks (kFused on CUDA, kFusedStep and kPersistent on the CPU).
  void set_algorithm(Algorithm algorithm);
  Algorithm algorithm() const { return algorithm_; }
  // What algorithm() stands for on this model's device: never kAuto.
  Algorithm resolved_algorithm() const;

  // Dropout's masks (RNNOptions::dropout) are a pure function of (seed, call, layer, element)
  // (kernels/dropout_ops.h), so the CPU and the GPU draw the same ones. The seed is the
  // constructor's; every forward_train with dropout advances the call counter by one. A training
  // checkpoint records both (Trainer), so a resumed run draws the masks the uninterrupted one
  // would have.
  uint64_t dropout_seed() const { return dropout_seed_; }
  uint64_t dropout_calls() const { return dropout_calls_; }
  void set_dropout_state(uint64_t seed, uint64_t calls);

  // Parameters (Module): PyTorch's names in PyTorch's order: weight_ih_l0, weight_hh_l0,
  // bias_ih_l0, bias_hh_l0, then "_reverse" for direction 1, then the next layer.

  // Inference: saves nothing. `h0` may be undefined (zeros), like PyTorch's optional hx.
  // Unbatched input, as in PyTorch: `input` [T, input_size] (batch_first does not apply) with
  // h0 [num_layers * D, H] is one sequence; the results then have no batch dimension either,
  // and so do backward's arguments and results for the cache such a forward_train filled.
  // `lengths` (optional, one per sequence, each in [1, T], any order) gives variable-length
  // batches PyTorch's packed-sequence semantics: sequence b runs steps t < lengths[b] only, its
  // outputs past that are zero, its h_n is its state at its own last step, and the reverse
  // direction starts at that step. Empty means every sequence runs all T steps.
  RNNOutput forward(const Tensor& input, const Tensor& h0 = Tensor(),
                    const std::vector<int64_t>& lengths = {});
  // Training: also saves into `cache` what backward needs (the lengths included).
  RNNOutput forward_train(const Tensor& input, const Tensor& h0, RNNCache& cache,
                          const std::vector<int64_t>& lengths = {});
  // BPTT over the forward that filled `cache`. Either upstream gradient may be undefined
  // (treated as zeros). Parameter gradients are accumulated (+=) into grad(), as PyTorch
  // accumulates into .grad; input and h0 gradients are returned (zero at padded steps).
  RNNInputGrads backward(const RNNCache& cache, const Tensor& grad_output,
                         const Tensor& grad_h_n = Tensor());

  // The same three calls writing into caller-owned results: a tensor of the right shape and
  // device is written in place, any other (or an undefined one) is replaced by a new one. A
  // loop that passes the same results each time allocates nothing after its first call.
  //
  // Aliasing rule: a result written in place must not share memory with an argument, another
  // result or the model's parameters and gradients (elman::Error naming both), with one
  // exception: h_n may be h0 itself (the natural truncated-BPTT and streaming loop,
  // forward_train_into(x, r.h_n, cache, r)); h0 is then read into a private copy first.
  // A training forward copies h0 into the cache and keeps the input and the parameters by
  // reference; backward refuses (elman::Error naming the tensor) an input or parameters
  // written through elman since forward_train (Tensor::version()).
  void forward_into(const Tensor& input, const Tensor& h0, RNNOutput& result,
                    const std::vector<int64_t>& lengths = {});
  void forward_train_into(const Tensor& input, const Tensor& h0, RNNCache& cache, RNNOutput& result,
                          const std::vector<int64_t>& lengths = {});
  void backward_into(const RNNCache& cache, const Tensor& grad_output, const Tensor& grad_h_n,
                     RNNInputGrads& result);

  // Streaming inference (nn.RNNCell's use, for every layer at once): advances the model one
  // time step. x_t: [B, input_size] (or [input_size] for one sequence); state: [num_layers, B, H]
  // (or [num_layers, H]), undefined for zeros. Returns output [B, H] (or [H]) and the new state
  // in h_n. Equal, step for step, to forward() over the whole sequence. Unidirectional models
  // only (a reverse direction needs the future).
  RNNOutput step(const Tensor& x_t, const Tensor& state = Tensor());
  // As step(), writing into caller-owned results; result.h_n may be `state` itself, updated in
  // place, so a serving loop allocates nothing: step_into(x, s, r) with r.h_n = s.
  void step_into(const Tensor& x_t, const Tensor& state, RNNOutput& result);

 private:
  struct Workspace;
  // The one body of forward_into (cache == nullptr) and forward_train_into.
  void forward_body(const char* call, const Tensor& input, const Tensor& h0, RNNCache* cache,
                    RNNOutput& result, const std::vector<int64_t>& lengths);
  // backward_into for batched tensors (an unbatched call views its tensors as a batch of one).
  void backward_batched(const RNNCache& cache, const Tensor& grad_output, const Tensor& grad_h_n,
                        RNNInputGrads& result);
  uint64_t id_;  // unique per model, so a cache knows which model filled it
  RNNOptions options_;
  Algorithm algorithm_ = Algorithm::kAuto;
  std::unique_ptr<Workspace> workspace_;
  uint64_t dropout_seed_ = 0, dropout_calls_ = 0;
};

}  // namespace elman
