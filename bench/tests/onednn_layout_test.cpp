// Tests of the weight-layout conversion between elman (PyTorch's layout) and oneDNN's RNN
// primitive, and of the layer groups one primitive can run: pure host code, no oneDNN needed.
#include "bench/onednn_layout.h"

#include <gtest/gtest.h>

#include <numeric>

#include "elman/error.h"
#include "host/param_layout.h"
#include "tests/test_util.h"

namespace elman::bench {
namespace {

RNNOptions options(int64_t input, int64_t hidden, int64_t layers, bool bi, bool bias = true) {
  return test::make_options(input, hidden, layers, Nonlinearity::kTanh, bi, false, bias);
}

// flat[k] = k: every parameter identifies its own position.
std::vector<float> positions(const RNNOptions& o) {
  std::vector<float> flat(size_t(detail::make_param_layout(o).total));
  std::iota(flat.begin(), flat.end(), 0.0f);
  return flat;
}

int64_t offset_of(const RNNOptions& o, const std::string& name) {
  for (const detail::ParamEntry& e : detail::make_param_layout(o).entries)
    if (e.name == name) return e.offset;
  ADD_FAILURE() << "no parameter " << name;
  return 0;
}

void expect_group(const OnednnLayerGroup& g, int64_t first, int64_t layers, int64_t input) {
  EXPECT_EQ(g.first_layer, first);
  EXPECT_EQ(g.layers, layers);
  EXPECT_EQ(g.input_size, input);
}

TEST(OnednnLayerGroups, OnePrimitiveWherePyTorchAndOnednnStackLayersAlike) {
  auto g = onednn_layer_groups(options(3, 5, 1, false));
  ASSERT_EQ(g.size(), 1u);
  expect_group(g[0], 0, 1, 3);
  g = onednn_layer_groups(options(5, 5, 3, false));  // every input H wide: one 3-layer primitive
  ASSERT_EQ(g.size(), 1u);
  expect_group(g[0], 0, 3, 5);
  g = onednn_layer_groups(options(7, 5, 3, false));  // layer 0 is wider: on its own
  ASSERT_EQ(g.size(), 2u);
  expect_group(g[0], 0, 1, 7);
  expect_group(g[1], 1, 2, 5);
  // Bidirectional: oneDNN would stack each direction alone; PyTorch's layer 1 sees both.
  g = onednn_layer_groups(options(5, 5, 3, true));
  ASSERT_EQ(g.size(), 3u);
  expect_group(g[0], 0, 1, 5);
  expect_group(g[1], 1, 1, 10);
  expect_group(g[2], 2, 1, 10);
}

TEST(OnednnWeights, OneLayerByHand) {
  // I = 3, H = 2: weight_ih [2, 3] = 1..6, weight_hh [2, 2] = 7..10, bias_ih 11 12, bias_hh 13 14.
  const RNNOptions o = options(3, 2, 1, false);
  std::vector<float> flat(14);
  std::iota(flat.begin(), flat.end(), 1.0f);
  const OnednnWeights w = to_onednn_weights(o, onednn_layer_groups(o)[0], flat);
  // ldigo [1, 1, 3, 1, 2]: [i][o] = weight_ih[o][i], the transpose.
  EXPECT_EQ(w.layer, (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(w.iter, (std::vector<float>{7, 9, 8, 10}));
  EXPECT_EQ(w.bias, (std::vector<float>{11 + 13, 12 + 14}));  // one bias: their sum
}

TEST(OnednnWeights, ReverseDirectionAndUpperLayerInputs) {
  const RNNOptions o = options(3, 4, 2, true);  // layer 1's input is D*H = 8 wide
  const std::vector<float> flat = positions(o);
  const OnednnLayerGroup g = onednn_layer_groups(o)[1];
  const OnednnWeights w = to_onednn_weights(o, g, flat);
  const int64_t H = 4, I = 8;
  ASSERT_EQ(w.layer.size(), size_t(2 * I * H));
  ASSERT_EQ(w.iter.size(), size_t(2 * H * H));
  const int64_t ih = offset_of(o, "weight_ih_l1_reverse"),
                hh = offset_of(o, "weight_hh_l1_reverse");
  const int64_t bi = offset_of(o, "bias_ih_l1_reverse"), bh = offset_of(o, "bias_hh_l1_reverse");
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t i = 0; i < I; ++i)  // direction 1 of the group's only layer: ld = 1
      EXPECT_EQ(w.layer[size_t((1 * I + i) * H + h)], float(ih + h * I + i)) << h << " " << i;
    for (int64_t i = 0; i < H; ++i)
      EXPECT_EQ(w.iter[size_t((1 * H + i) * H + h)], float(hh + h * H + i)) << h << " " << i;
    EXPECT_EQ(w.bias[size_t(H + h)], float(bi + h) + float(bh + h));
  }
  // Direction 0 reads the forward layer-1 tensors.
  EXPECT_EQ(w.layer[0], float(offset_of(o, "weight_ih_l1")));
}

TEST(OnednnWeights, WithoutBiasesOnednnsBiasIsZero) {
  const RNNOptions o = options(3, 2, 2, false, false);
  const std::vector<float> flat = positions(o);
  const OnednnWeights w = to_onednn_weights(o, onednn_layer_groups(o)[1], flat);
  EXPECT_EQ(w.bias, std::vector<float>(2, 0.0f));
}

TEST(OnednnGrads, BackToElmansOrderEachBiasGetsTheOneGradient) {
  const RNNOptions o = options(6, 5, 3, false);  // groups: layer 0, layers 1-2
  const std::vector<float> flat = positions(o);
  const std::vector<OnednnLayerGroup> groups = onednn_layer_groups(o);
  ASSERT_EQ(groups.size(), 2u);
  std::vector<float> grads(flat.size(), -1.0f);
  // Group 1 only: layer 0's entries are left alone.
  OnednnWeights g1 = to_onednn_weights(o, groups[1], flat);
  for (float& b : g1.bias) b = 0.5f;  // a bias gradient: db_ih = db_hh = it
  from_onednn_grads(o, groups[1], g1, grads);
  for (const detail::ParamEntry& e : detail::make_param_layout(o).entries) {
    const bool layer0 = e.name.back() == '0';
    const bool is_bias = e.name.rfind("bias", 0) == 0;
    for (int64_t k = e.offset; k < e.offset + shape_numel(e.shape); ++k) {
      const float want = layer0 ? -1.0f : is_bias ? 0.5f : flat[size_t(k)];
      ASSERT_EQ(grads[size_t(k)], want) << e.name << " at " << k - e.offset;
    }
  }
}

TEST(OnednnLayout, StateSliceOfAGroup) {
  const RNNOptions o = options(5, 5, 3, true);
  // [L*D, B, H] with B = 4, H = 5: layer 2 starts at row l*D = 4, i.e. 4 * 4 * 5 floats in.
  EXPECT_EQ(onednn_state_offset(o, onednn_layer_groups(o)[2], 4), 80);
  EXPECT_EQ(onednn_state_offset(o, onednn_layer_groups(o)[0], 4), 0);
}

TEST(OnednnLayout, RejectsWrongSizesAndGroups) {
  const RNNOptions o = options(3, 2, 2, false);
  const std::vector<float> flat = positions(o);
  EXPECT_THROW(to_onednn_weights(o, {0, 1, 3}, std::vector<float>(flat.size() - 1)), Error);
  EXPECT_THROW(to_onednn_weights(o, {0, 2, 3}, flat), Error);  // layer 1's input is 2 wide
  EXPECT_THROW(to_onednn_weights(o, {1, 2, 2}, flat), Error);  // no layer 2
  EXPECT_THROW(to_onednn_weights(o, {0, 0, 3}, flat), Error);
  OnednnWeights w = to_onednn_weights(o, {1, 1, 2}, flat);
  w.iter.pop_back();
  std::vector<float> grads(flat.size());
  EXPECT_THROW(from_onednn_grads(o, {1, 1, 2}, w, grads), Error);
  try {
    to_onednn_weights(o, {0, 2, 3}, flat);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 has 2 inputs"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace elman::bench
