// elman's parameters in oneDNN's RNN layouts: which layers one oneDNN primitive can run, and
// PyTorch's weights and two biases <-> oneDNN's ldigo weights and one ldgo bias. Pure host code.
#pragma once

#include <cstdint>
#include <vector>

#include "elman/rnn.h"

namespace elman::bench {

// Consecutive layers that one oneDNN RNN primitive computes. oneDNN's multi-layer primitive
// gives all its layers one input width (SLC), and stacks a bidirectional model per direction
// (its layer l+1 of one direction sees only that direction's layer l; the two are concatenated
// at the end), where PyTorch's layer l+1 sees both directions' outputs. So unidirectional layers
// share a primitive when their inputs are all H wide, and a bidirectional model above one layer
// needs a primitive per layer, the outputs of one feeding the next.
struct OnednnLayerGroup {
  int64_t first_layer = 0;
  int64_t layers = 1;
  int64_t input_size = 0;  // SLC: the width of every input of the group's layers
};

// The groups, bottom first, covering every layer once.
std::vector<OnednnLayerGroup> onednn_layer_groups(const RNNOptions& options);

// One group's weights in oneDNN's plain user layouts (vanilla RNN: one gate), Lg = its layers:
//   layer: ldigo [Lg, D, I_g, 1, H], layer[l][d][i][0][o] = weight_ih_l{first + l}(d)[o][i]
//   iter:  ldigo [Lg, D, H, 1, H],   iter[l][d][i][0][o]  = weight_hh_l{first + l}(d)[o][i]
//   bias:  ldgo  [Lg, D, 1, H],      bias_ih + bias_hh (oneDNN has one bias; zeros with
//          bias=False)
// (d) is the direction: no suffix for 0, "_reverse" for 1. PyTorch's [H, I] row-major weights are
// oneDNN's [I, H]: a transpose.
struct OnednnWeights {
  std::vector<float> layer, iter, bias;
};

// From elman's flat parameters (PyTorch's order, elman's flat_parameters()). Throws
// elman::Error when `flat` has the wrong size.
OnednnWeights to_onednn_weights(const RNNOptions& options, const OnednnLayerGroup& group,
                                const std::vector<float>& flat);

// Back, for gradients: writes the group's weight gradients, in the layouts above, into elman's
// flat gradient buffer (PyTorch's order). oneDNN's one bias gradient is both db_ih and db_hh
// (the two biases enter the pre-activation as a sum). Other groups' entries are left as they
// are. Throws elman::Error on a size mismatch.
void from_onednn_grads(const RNNOptions& options, const OnednnLayerGroup& group,
                       const OnednnWeights& grads, std::vector<float>& flat);

// A [L*D, B, H] state (h0, h_n and their gradients) is oneDNN's ldnc [L, D, B, H]: the same
// order, so a group's slice is contiguous, starting at this offset in floats.
int64_t onednn_state_offset(const RNNOptions& options, const OnednnLayerGroup& group,
                            int64_t batch);

}  // namespace elman::bench
