// elman's parameters to and from oneDNN's RNN layouts (documented in onednn_layout.h).
#include "bench/onednn_layout.h"

#include <string>

#include "elman/error.h"
#include "host/param_layout.h"

namespace elman::bench {

std::vector<OnednnLayerGroup> onednn_layer_groups(const RNNOptions& o) {
  const int64_t L = o.num_layers;
  if (o.bidirectional) {
    std::vector<OnednnLayerGroup> groups;
    for (int64_t l = 0; l < L; ++l) groups.push_back({l, 1, o.layer_input_size(l)});
    return groups;
  }
  if (o.input_size == o.hidden_size || L == 1) return {{0, L, o.input_size}};
  return {{0, 1, o.input_size}, {1, L - 1, o.hidden_size}};
}

namespace {

void check_flat(const char* call, const detail::ParamLayout& layout, size_t given) {
  if (int64_t(given) != layout.total)
    throw Error(std::string(call) + ": the flat buffer holds " + std::to_string(given) +
                " floats, the model has " + std::to_string(layout.total));
}

// The group must be layers of the model whose inputs all have the group's width.
void check_group(const char* call, const RNNOptions& o, const OnednnLayerGroup& g) {
  if (g.first_layer < 0 || g.layers < 1 || g.first_layer + g.layers > o.num_layers)
    throw Error(std::string(call) + ": layers [" + std::to_string(g.first_layer) + ", " +
                std::to_string(g.first_layer + g.layers) + ") are not among the model's " +
                std::to_string(o.num_layers) + " layers");
  for (int64_t l = g.first_layer; l < g.first_layer + g.layers; ++l)
    if (o.layer_input_size(l) != g.input_size)
      throw Error(std::string(call) + ": layer " + std::to_string(l) + " has " +
                  std::to_string(o.layer_input_size(l)) + " inputs, its group " +
                  std::to_string(g.input_size));
}

// Visits every element of the group's three tensors with its index in oneDNN's layout and in
// elman's flat buffer (-1 for a bias the model does not have): f(kind, onednn, flat), kind 0 =
// layer weights, 1 = iter weights, 2 = bias_ih, 3 = bias_hh (both land on oneDNN's one bias).
template <typename F>
void for_each_element(const RNNOptions& o, const OnednnLayerGroup& g, F&& f) {
  const detail::ParamLayout layout = detail::make_param_layout(o);
  const int64_t D = o.num_directions(), H = o.hidden_size, I = g.input_size;
  for (int64_t l = 0; l < g.layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const detail::CellOffsets& c = layout.cells[size_t((g.first_layer + l) * D + d)];
      const int64_t ld = l * D + d;
      for (int64_t h = 0; h < H; ++h) {  // h: the output unit (PyTorch's row, oneDNN's o)
        for (int64_t i = 0; i < I; ++i) f(0, (ld * I + i) * H + h, c.w_ih + h * I + i);
        for (int64_t i = 0; i < H; ++i) f(1, (ld * H + i) * H + h, c.w_hh + h * H + i);
        f(2, ld * H + h, o.bias ? c.b_ih + h : -1);  // bias_ih before bias_hh, always
        f(3, ld * H + h, o.bias ? c.b_hh + h : -1);
      }
    }
}

OnednnWeights sized(const RNNOptions& o, const OnednnLayerGroup& g) {
  const size_t LD = size_t(g.layers * o.num_directions()), H = size_t(o.hidden_size);
  return {std::vector<float>(LD * size_t(g.input_size) * H), std::vector<float>(LD * H * H),
          std::vector<float>(LD * H)};
}

}  // namespace

OnednnWeights to_onednn_weights(const RNNOptions& o, const OnednnLayerGroup& g,
                                const std::vector<float>& flat) {
  check_group("to_onednn_weights", o, g);
  check_flat("to_onednn_weights", detail::make_param_layout(o), flat.size());
  OnednnWeights w = sized(o, g);
  std::vector<float>* dst[] = {&w.layer, &w.iter, &w.bias, &w.bias};
  for_each_element(o, g, [&](int kind, int64_t onednn, int64_t at) {
    if (at < 0) return;  // no bias: oneDNN's stays zero
    float& v = (*dst[kind])[size_t(onednn)];
    v = kind == 3 ? v + flat[size_t(at)] : flat[size_t(at)];
  });
  return w;
}

void from_onednn_grads(const RNNOptions& o, const OnednnLayerGroup& g, const OnednnWeights& grads,
                       std::vector<float>& flat) {
  check_group("from_onednn_grads", o, g);
  check_flat("from_onednn_grads", detail::make_param_layout(o), flat.size());
  const OnednnWeights want = sized(o, g);
  if (grads.layer.size() != want.layer.size() || grads.iter.size() != want.iter.size() ||
      grads.bias.size() != want.bias.size())
    throw Error("from_onednn_grads: the gradients hold " + std::to_string(grads.layer.size()) +
                " + " + std::to_string(grads.iter.size()) + " + " +
                std::to_string(grads.bias.size()) + " floats, the group's layouts " +
                std::to_string(want.layer.size()) + " + " + std::to_string(want.iter.size()) +
                " + " + std::to_string(want.bias.size()));
  const std::vector<float>* src[] = {&grads.layer, &grads.iter, &grads.bias, &grads.bias};
  for_each_element(o, g, [&](int kind, int64_t onednn, int64_t at) {
    if (at >= 0) flat[size_t(at)] = (*src[kind])[size_t(onednn)];
  });
}

int64_t onednn_state_offset(const RNNOptions& o, const OnednnLayerGroup& g, int64_t batch) {
  return g.first_layer * o.num_directions() * batch * o.hidden_size;
}

}  // namespace elman::bench
