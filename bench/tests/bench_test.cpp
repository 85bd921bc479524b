// Tests of elman-bench's own arithmetic, on the CPU: FLOP and byte counts, floors, medians, the
// shape grids and file parser, and the weight copy into cuDNN's layout against fake offset tables.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "bench/agreement.h"
#include "bench/cudnn_layout.h"
#include "bench/flops.h"
#include "bench/report.h"
#include "bench/shapes.h"
#include "elman/error.h"
#include "host/param_layout.h"

namespace elman::bench {
namespace {

BenchShape shape(int64_t b, int64_t h, int64_t t, int64_t l, bool bi, int64_t i = 0) {
  return BenchShape{b, h, t, l, bi, i ? i : h};
}

// ---- FLOP counts -------------------------------------------------------------------------

TEST(FlopCounts, OneLayerUnidirectionalByHand) {
  // T=50, B=32, I=H=256: 2 * 50 * 32 * (256*256 + 256*256) = 419,430,400.
  const PhaseCounts c = flop_counts(shape(32, 256, 50, 1, false));
  EXPECT_EQ(c[Phase::kInference], 419430400.0);
  EXPECT_EQ(c[Phase::kTrainForward], 419430400.0);
  EXPECT_EQ(c[Phase::kBackward], 2 * 419430400.0);
  EXPECT_EQ(c[Phase::kStep], 3 * 419430400.0);
}

TEST(FlopCounts, UpperLayersSeeBothDirections) {
  // T=10, B=4, I=3, H=5, two layers, bidirectional:
  // layer 0: 2 dirs * 2*10*4*(3*5 + 25) = 2 * 80 * 40 = 6400;
  // layer 1 (input D*H = 10): 2 * 80 * (10*5 + 25) = 2 * 80 * 75 = 12000.
  const PhaseCounts c = flop_counts(shape(4, 5, 10, 2, true, 3));
  EXPECT_EQ(c[Phase::kInference], 18400.0);
  EXPECT_EQ(c[Phase::kBackward], 36800.0);
  EXPECT_EQ(c[Phase::kStep], 55200.0);
}

TEST(FlopCounts, DeepBenchShape) {
  // H=1760, B=64, T=50, I=H: 2*50*64*(2*1760^2) = 39,649,280,000 per forward.
  EXPECT_EQ(flop_counts(shape(64, 1760, 50, 1, false))[Phase::kInference], 39649280000.0);
}

TEST(ParamCount, MatchesElmansLayout) {
  for (const BenchShape& s :
       {shape(1, 8, 2, 1, false), shape(3, 7, 2, 2, true, 5), shape(2, 16, 3, 3, false, 4)})
    EXPECT_EQ(param_count(s), detail::make_param_layout(s.options()).total) << s.name();
}

TEST(ByteCounts, OneLayerByHand) {
  // T=2, B=3, I=4, H=5, uni: params P = 5*4 + 25 + 10 = 55; states (h0, h_n) 15 each.
  // forward floats: x 24 + y 30 + P 55 + h0 15 + h_n 15 = 139 -> 556 bytes;
  // backward floats: 2*y 60 + 2*x 48 + 3*P 165 + 3*states 45 = 318 -> 1272 bytes.
  const PhaseCounts c = byte_counts(shape(3, 5, 2, 1, false, 4));
  EXPECT_EQ(c[Phase::kInference], 556.0);
  EXPECT_EQ(c[Phase::kBackward], 1272.0);
  EXPECT_EQ(c[Phase::kStep], 556.0 + 1272.0);
}

// ---- floors, medians, agreement --------------------------------------------------------------

TEST(Floors, FlopsOverRateAndBytesOverBandwidth) {
  // 1e12 FLOP at 50 TFLOP/s = 20 ms; 3e9 bytes at 3e12 B/s = 1 ms.
  const Floors f = floors(1e12, 3e9, 50e12, 3e12);
  EXPECT_DOUBLE_EQ(f.compute_ms, 20.0);
  EXPECT_DOUBLE_EQ(f.memory_ms, 1.0);
  EXPECT_THROW(floors(1, 1, 0, 1), Error);
  EXPECT_DOUBLE_EQ(tflop_per_s(2e12, 1000.0), 2.0);  // 2e12 FLOP in 1 s
}

TEST(Median, OddEvenAndUnsorted) {
  EXPECT_EQ(median({3, 1, 2}), 2.0);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(median({5}), 5.0);
  EXPECT_EQ(median({9, 9, 1, 1, 5}), 5.0);
  EXPECT_THROW(median({}), Error);
  const Summary s = summarize({4, 8, 1, 3});
  EXPECT_EQ(s.median_ms, 3.5);
  EXPECT_EQ(s.min_ms, 1.0);
  EXPECT_EQ(s.max_ms, 8.0);
  EXPECT_EQ(s.runs, 4);
  EXPECT_EQ(s.samples_ms, (std::vector<double>{4, 8, 1, 3}));  // every run kept, in order
}

TEST(RelativeError, NormsNanAndSizes) {
  EXPECT_EQ(relative_error({1, 2}, {1, 2}), 0.0);
  EXPECT_DOUBLE_EQ(relative_error({3, 4}, {0, 5}), std::sqrt(9.0 + 1.0) / 5.0);
  EXPECT_TRUE(std::isinf(relative_error({1}, {1, 2})));
  EXPECT_TRUE(std::isinf(relative_error({std::nanf("")}, {1})));
  EXPECT_TRUE(std::isinf(relative_error({1}, {0})));
  EXPECT_EQ(relative_error({0}, {0}), 0.0);
}

TEST(BestPeer, OnlyAgreeingTimedPeersCount) {
  ShapeResult r;
  SideResult fast_wrong, slow_ok, faster_ok;
  fast_wrong.name = "A";
  fast_wrong.status = "disagrees";
  fast_wrong.timed = true;
  fast_wrong.phases[0] = summarize({0.1});
  slow_ok.name = "B";
  slow_ok.status = "ok";
  slow_ok.timed = true;
  slow_ok.phases[0] = summarize({2.0});
  faster_ok = slow_ok;
  faster_ok.name = "C";
  faster_ok.phases[0] = summarize({1.0});
  r.peers = {fast_wrong, slow_ok, faster_ok};
  ASSERT_NE(best_peer(r, Phase::kInference), nullptr);
  EXPECT_EQ(best_peer(r, Phase::kInference)->name, "C");
  r.peers = {fast_wrong};
  EXPECT_EQ(best_peer(r, Phase::kInference), nullptr);
}

// A peer that refuses training is timed for inference only: it competes in that phase alone,
// and its JSON lists only the phase it ran.
TEST(BestPeer, InferenceOnlyPeerCountsForInferenceAlone) {
  ShapeResult r;
  SideResult trains, inference_only;
  trains.name = "STANDARD";
  trains.status = "ok";
  trains.timed = true;
  for (Summary& s : trains.phases) s = summarize({2.0});
  inference_only.name = "PERSIST_STATIC_SMALL_H";
  inference_only.status = "inference only";
  inference_only.reason = "cudnnRNNForward(training): CUDNN_STATUS_NOT_SUPPORTED";
  inference_only.timed = true;
  inference_only.phases[int(Phase::kInference)] = summarize({1.0});
  r.peers = {trains, inference_only};
  EXPECT_EQ(best_peer(r, Phase::kInference)->name, "PERSIST_STATIC_SMALL_H");
  EXPECT_EQ(best_peer(r, Phase::kStep)->name, "STANDARD");
  r.peers = {inference_only};
  EXPECT_EQ(best_peer(r, Phase::kTrainForward), nullptr);
  const nlohmann::json j = to_json({r}, Rates{})["shapes"][0]["peers"][0];
  EXPECT_EQ(j["status"], "inference only");
  EXPECT_TRUE(j["times"].contains("inference"));
  EXPECT_FALSE(j["times"].contains("step"));
}

TEST(Report, JsonRatioIsPeerOverElmanAndUnverifiedTimesAreMarked) {
  ShapeResult r;
  r.shape = shape(32, 256, 50, 1, false);
  Rates rates;
  rates.gemm_flop_per_s = 50e12;
  rates.copy_byte_per_s = 3e12;
  fill_counts(r, rates);
  EXPECT_DOUBLE_EQ(r.floors[int(Phase::kStep)].compute_ms,
                   1e3 * 3 * 419430400.0 / 50e12);  // step FLOPs (see above) / rate
  r.elman.timed = true;
  r.elman.status = "ok";
  SideResult peer;
  peer.name = "STANDARD";
  peer.status = "ok";
  peer.timed = true;
  for (int p = 0; p < kNumPhases; ++p) {
    r.elman.phases[p] = summarize({2.0});
    peer.phases[p] = summarize({5.0});
  }
  r.peers = {peer};
  r.verified = true;
  const nlohmann::json j = to_json({r}, rates)["shapes"][0]["phases"]["inference"];
  EXPECT_DOUBLE_EQ(j["ratio_peer_over_elman"].get<double>(), 2.5);  // 5 ms / 2 ms
  EXPECT_EQ(j["peer"], "STANDARD");
  EXPECT_DOUBLE_EQ(j["elman_tflop_per_s"].get<double>(), 419430400.0 / 2e-3 / 1e12);
  // Without an agreeing peer there is no ratio, and the shape says it is unverified.
  r.peers[0].status = "disagrees";
  r.verified = false;
  const nlohmann::json u = to_json({r}, rates)["shapes"][0];
  EXPECT_FALSE(u["verified"].get<bool>());
  EXPECT_FALSE(u["phases"]["inference"].contains("ratio_peer_over_elman"));
}

// ---- elman's side of the agreement check -----------------------------------------------------

// elman_results zeroes the gradients before its backward (a second call gives the same dw, not
// twice it), fills every result, and counts nothing past the ends of a varlen batch.
TEST(ElmanResults, GradientsZeroedResultsFilledPaddingZero) {
  Context ctx(Device::cpu());
  RNNOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.num_layers = 2;
  o.bidirectional = true;
  RNN rnn(ctx, o, 7);
  const int64_t T = 5, B = 3, LD = 4, DH = 8;
  auto values = [](int64_t n, unsigned seed) {  // U(-1, 1)
    std::mt19937 gen(seed);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& f : v) f = float(gen()) / float(gen.max()) * 2.0f - 1.0f;
    return v;
  };
  const Tensor x = Tensor::from_vector({T, B, 3}, values(T * B * 3, 1));
  const Tensor h0 = Tensor::from_vector({LD, B, 4}, values(LD * B * 4, 2));
  const Tensor dy = Tensor::from_vector({T, B, DH}, values(T * B * DH, 3));
  const Tensor dhy = Tensor::from_vector({LD, B, 4}, values(LD * B * 4, 4));
  const std::vector<int64_t> lengths = {5, 2, 4};
  RNNOutput inference, train;
  RNNCache cache;
  RNNInputGrads grads;
  const ElmanResults a =
      elman_results(rnn, x, h0, dy, dhy, lengths, inference, train, cache, grads);
  const ElmanResults b =
      elman_results(rnn, x, h0, dy, dhy, lengths, inference, train, cache, grads);
  EXPECT_EQ(a.dw, b.dw);
  EXPECT_EQ(a.dw.size(), size_t(rnn.flat_parameters().numel()));
  EXPECT_EQ(a.y_inference, a.y);  // inference and training forward agree exactly on the CPU
  EXPECT_EQ(a.y.size(), size_t(T * B * DH));
  EXPECT_EQ(a.h_n.size(), size_t(LD * B * 4));
  EXPECT_EQ(a.dx.size(), size_t(T * B * 3));
  EXPECT_EQ(a.dh0.size(), size_t(LD * B * 4));
  EXPECT_EQ(a.pad_y_inference + a.pad_y + a.pad_dx, 0);
  double dw_norm = 0;
  for (float v : a.dw) dw_norm += double(v) * v;
  EXPECT_GT(dw_norm, 0.0);
}

// ---- shapes ------------------------------------------------------------------------------

TEST(Grid, FullGridIsTheCrossProduct) {
  const std::vector<BenchShape> g = full_grid();
  EXPECT_EQ(g.size(), 5u * 6u * 3u * 2u * 2u);
  std::set<std::string> names;
  for (const BenchShape& s : g) {
    names.insert(s.name());
    EXPECT_EQ(s.input_size, s.hidden);
  }
  EXPECT_EQ(names.size(), g.size());  // no duplicates
  EXPECT_TRUE(names.count("B256 H2560 T100 L2 bi"));
  EXPECT_TRUE(names.count("B1 H128 T25 L1 uni"));
}

TEST(Grid, DeepBenchShapes) {
  const std::vector<BenchShape> d = deepbench_shapes();
  ASSERT_EQ(d.size(), 12u);
  for (const BenchShape& s : d) {
    EXPECT_EQ(s.seq_len, 50);
    EXPECT_EQ(s.input_size, s.hidden);
    EXPECT_EQ(s.layers, 1);
    EXPECT_FALSE(s.bidirectional);
  }
  EXPECT_EQ(d.front(), shape(16, 1760, 50, 1, false));
  EXPECT_EQ(d.back(), shape(128, 2560, 50, 1, false));
}

TEST(Grid, SelectionAndQuickSubsets) {
  // Default: the grid, then the DeepBench shapes not already in it: 4 of the 12 (H 1760 and
  // 2560 x B 32 and 64, T 50, one layer, uni) are grid shapes, so 8 are added.
  const std::vector<BenchShape> all = select_shapes({}, BenchDevice::kCUDA);
  EXPECT_EQ(all.size(), 360u + 8u);
  EXPECT_EQ(select_shapes({false, true, ""}, BenchDevice::kCUDA).size(), 12u);
  const std::vector<BenchShape> quick_gpu = select_shapes({true, false, ""}, BenchDevice::kCUDA);
  const std::vector<BenchShape> quick_cpu = select_shapes({true, false, ""}, BenchDevice::kCPU);
  EXPECT_LE(quick_gpu.size(), 12u);  // a minute's worth
  EXPECT_LE(quick_cpu.size(), 10u);
  // The CPU subset is small: no forward above 2 GFLOP (a few tens of ms on two cores), so that
  // 4 phases x (20 + warm-up) runs x 2 sides stay near a minute in all.
  for (const BenchShape& s : quick_cpu)
    EXPECT_LE(flop_counts(s)[Phase::kInference], 2e9) << s.name();
  // Both subsets cover bidirectional and multi-layer shapes.
  for (const auto* q : {&quick_gpu, &quick_cpu}) {
    bool bi = false, deep = false;
    for (const BenchShape& s : *q) {
      bi = bi || s.bidirectional;
      deep = deep || s.layers > 1;
    }
    EXPECT_TRUE(bi && deep);
  }
  EXPECT_THROW(select_shapes({true, true, ""}, BenchDevice::kCPU), Error);
}

TEST(ShapeFile, ParsesCommentsBlanksAndInputSize) {
  std::istringstream in(
      "# batch hidden seq_len layers dir [input]\n"
      "\n"
      "32 512 50 1 uni\n"
      "  64 1760 25 2 bi 256   # a comment\n");
  const std::vector<BenchShape> s = parse_shapes(in, "test");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], shape(32, 512, 50, 1, false));
  EXPECT_EQ(s[1], shape(64, 1760, 25, 2, true, 256));
  EXPECT_EQ(s[1].name(), "B64 H1760 T25 L2 bi I256");
}

TEST(ShapeFile, RejectsBadLinesNamingTheLine) {
  for (const char* bad :
       {"32 512 50 1\n", "32 512 50 1 sideways\n", "32 0 50 1 uni\n", "32 512x 50 1 uni\n",
        "-1 512 50 1 uni\n", "1 2 3 4 uni 5 6\n", "99999999999 1 1 1 uni\n"}) {
    std::istringstream in(std::string("8 8 8 1 uni\n") + bad);
    try {
      parse_shapes(in, "f.txt");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("f.txt:2"), std::string::npos) << what;  // the file and the line
    }
  }
  std::istringstream empty("# nothing\n");
  EXPECT_THROW(parse_shapes(empty, "e"), Error);
}

// ---- the weight copy into cuDNN's layout --------------------------------------------------

// A fake cuDNN layout: the slots in an order unlike PyTorch's (pseudo-layers backwards, biases
// first, recurrent before input), with gaps between them, as cuDNN's padding could put them.
std::vector<CudnnParamSlot> fake_slots(const RNNOptions& o, int64_t* space) {
  std::vector<CudnnParamSlot> slots;
  const int64_t H = o.hidden_size;
  int64_t at = 3;  // a leading gap
  const int cells = int(o.num_layers * o.num_directions());
  for (int p = cells - 1; p >= 0; --p) {
    const int64_t in = o.layer_input_size(p / o.num_directions());
    for (int lin : {1, 0}) {
      slots.push_back({p, lin, true, at, H});
      at += H + 1;
    }
    for (int lin : {1, 0}) {
      const int64_t n = H * (lin == 0 ? in : H);
      slots.push_back({p, lin, false, at, n});
      at += n + 2;
    }
  }
  *space = at + 5;
  return slots;
}

RNNOptions opts(int64_t i, int64_t h, int64_t l, bool bi) {
  RNNOptions o;
  o.input_size = i;
  o.hidden_size = h;
  o.num_layers = l;
  o.bidirectional = bi;
  return o;
}

TEST(CudnnWeightCopy, EveryParameterLandsInItsSlot) {
  for (const RNNOptions& o : {opts(3, 4, 1, false), opts(3, 4, 2, true), opts(5, 2, 3, false)}) {
    int64_t space = 0;
    const std::vector<CudnnParamSlot> slots = fake_slots(o, &space);
    const std::vector<CopySpan> plan = plan_cudnn_weight_copy(o, slots, space);
    const detail::ParamLayout layout = detail::make_param_layout(o);
    std::vector<float> flat(size_t(layout.total));
    for (size_t i = 0; i < flat.size(); ++i) flat[i] = float(i) + 0.5f;  // each value unique
    const float kUnset = -1.0f;
    std::vector<float> packed(size_t(space), kUnset);
    copy_to_cudnn(plan, flat.data(), packed.data());
    // Check slot by slot against ParamLayout, independently of the plan's own bookkeeping.
    int64_t copied = 0;
    for (const CudnnParamSlot& s : slots) {
      const detail::CellOffsets& c = layout.cells[size_t(s.pseudo_layer)];
      const int64_t src =
          s.is_bias ? (s.lin_id == 0 ? c.b_ih : c.b_hh) : (s.lin_id == 0 ? c.w_ih : c.w_hh);
      for (int64_t k = 0; k < s.count; ++k)
        ASSERT_EQ(packed[size_t(s.offset + k)], flat[size_t(src + k)])
            << "slot " << s.pseudo_layer << "/" << s.lin_id << (s.is_bias ? " bias" : "")
            << " k=" << k;
      copied += s.count;
    }
    EXPECT_EQ(copied, layout.total);
    int64_t untouched = 0;
    for (float v : packed) untouched += v == kUnset;
    EXPECT_EQ(untouched, space - layout.total);  // only the gaps
    // And back: cuDNN-ordered gradients return to PyTorch's order exactly.
    std::vector<float> back(flat.size(), 0.0f);
    copy_from_cudnn(plan, packed.data(), back.data());
    EXPECT_EQ(back, flat);
  }
}

TEST(CudnnWeightCopy, ReverseDirectionAndUpperLayerInputs) {
  // Layer 1 reverse (pseudo-layer 3) of a 2-layer bi RNN: W_ih is [H, 2H]; it must come from
  // weight_ih_l1_reverse.
  const RNNOptions o = opts(3, 4, 2, true);
  int64_t space = 0;
  const std::vector<CudnnParamSlot> slots = fake_slots(o, &space);
  const std::vector<CopySpan> plan = plan_cudnn_weight_copy(o, slots, space);
  const detail::ParamLayout layout = detail::make_param_layout(o);
  int64_t src = -1;
  for (const auto& e : layout.entries)
    if (e.name == "weight_ih_l1_reverse") src = e.offset;
  for (const CudnnParamSlot& s : slots)
    if (s.pseudo_layer == 3 && s.lin_id == 0 && !s.is_bias) {
      EXPECT_EQ(s.count, 4 * 8);
      bool found = false;
      for (const CopySpan& c : plan) found = found || (c.cudnn == s.offset && c.elman == src);
      EXPECT_TRUE(found);
    }
}

TEST(CudnnWeightCopy, RejectsWrongTables) {
  const RNNOptions o = opts(3, 4, 2, true);
  int64_t space = 0;
  const std::vector<CudnnParamSlot> good = fake_slots(o, &space);
  auto expect_error = [&](std::vector<CudnnParamSlot> slots, int64_t sp, const std::string& part) {
    try {
      plan_cudnn_weight_copy(o, slots, sp);
      ADD_FAILURE() << "accepted a table that should fail with '" << part << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  auto wrong_count = good;
  wrong_count[0].count += 1;
  expect_error(wrong_count, space, "expected");
  auto missing = good;
  missing.pop_back();
  expect_error(missing, space, "no slot");
  auto twice = good;
  twice.push_back(good[0]);
  expect_error(twice, space, "twice");
  auto overlap = good;
  overlap[1].offset = overlap[0].offset + 1;
  expect_error(overlap, space, "overlap");
  expect_error(good, space - 10, "past the weight space");
  auto bad_layer = good;
  bad_layer[0].pseudo_layer = 4;
  expect_error(bad_layer, space, "does not exist");
  RNNOptions no_bias = o;
  no_bias.bias = false;
  EXPECT_THROW(plan_cudnn_weight_copy(no_bias, good, space), Error);
}

}  // namespace
}  // namespace elman::bench
