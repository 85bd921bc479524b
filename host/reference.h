// The reference RNN: plain loops in the order of DESIGN.md §1, templated on the scalar type and
// run in double by the tests. No BLAS, no cleverness: the oracle every backend is checked against.
#pragma once

#include <cstdint>
#include <vector>

#include "elman/rnn.h"

namespace elman::reference {

// One (layer, direction)'s parameters, PyTorch's row-major layouts; biases empty with bias=False.
template <typename T>
struct Cell {
  std::vector<T> w_ih;  // [H, I_l]
  std::vector<T> w_hh;  // [H, H]
  std::vector<T> b_ih;  // [H]
  std::vector<T> b_hh;  // [H]
};

template <typename T>
using Weights = std::vector<Cell<T>>;  // index layer * D + direction

template <typename T>
struct Forward {
  std::vector<T> output;               // user layout: [T, B, D*H] or [B, T, D*H]
  std::vector<T> h_n;                  // [L*D, B, H]
  std::vector<std::vector<T>> states;  // per layer: [T, B, D*H], every h_t (time-major)
};

template <typename T>
struct Gradients {
  Weights<T> weights;    // dL/dparameter, same shapes as the weights
  std::vector<T> input;  // user layout, shape of the input
  std::vector<T> h0;     // [L*D, B, H]
};

// input in the user's layout (batch_first honoured); h0 nullptr means zeros; lengths nullptr
// means every sequence has seq_len steps, else sequence b runs steps t < (*lengths)[b] only
// (PyTorch's packed sequences: zero outputs past the end, h_n at the sequence's own last step,
// the reverse direction starting there).
template <typename T>
Forward<T> forward(const RNNOptions& o, const Weights<T>& w, const std::vector<T>& input,
                   int64_t seq_len, int64_t batch, const std::vector<T>* h0,
                   const std::vector<int64_t>* lengths = nullptr);

// BPTT over `fwd`; grad_output / grad_h_n nullptr mean zeros.
template <typename T>
Gradients<T> backward(const RNNOptions& o, const Weights<T>& w, const std::vector<T>& input,
                      int64_t seq_len, int64_t batch, const std::vector<T>* h0,
                      const Forward<T>& fwd, const std::vector<T>* grad_output,
                      const std::vector<T>* grad_h_n,
                      const std::vector<int64_t>* lengths = nullptr);

// The weights of a flat parameter vector laid out as make_param_layout(o) says, converted to T.
template <typename T>
Weights<T> weights_from_flat(const RNNOptions& o, const std::vector<float>& flat);
// And back: a flat vector in PyTorch's order (for comparing gradients with RNN::flat_grads()).
template <typename T>
std::vector<T> flat_from_weights(const RNNOptions& o, const Weights<T>& w);

}  // namespace elman::reference
