// Tests of elman-bench's variable-length and streaming cases, on the CPU: the lengths generator,
// the padding checks, FLOP and byte counts over the sequences' own lengths, the verdict rules,
// the varlen shape-file field and selection, streaming shapes, step FLOPs and the stream report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "bench/flops.h"
#include "bench/report.h"
#include "bench/shapes.h"
#include "bench/streaming.h"
#include "bench/varlen.h"
#include "elman/error.h"

namespace elman::bench {
namespace {

BenchShape shape(int64_t b, int64_t h, int64_t t, int64_t l, bool bi, int64_t i = 0,
                 bool varlen = false) {
  BenchShape s{b, h, t, l, bi, i ? i : h};
  s.varlen = varlen;
  return s;
}

// ---- the lengths generator -----------------------------------------------------------------

TEST(DrawLengths, EveryLengthInHalfTToTAndBothEndsReached) {
  for (int64_t T : {1, 2, 3, 25, 50, 51, 100}) {
    const int64_t lo = (T + 1) / 2;  // ceil(T/2)
    const std::vector<int64_t> l = draw_lengths(512, T, 7);
    ASSERT_EQ(l.size(), 512u);
    for (int64_t v : l) {
      EXPECT_GE(v, lo) << "T=" << T;
      EXPECT_LE(v, T) << "T=" << T;
    }
    // 512 draws over at most 51 values: each end is missed with probability (50/51)^512 < 4e-5,
    // and the seed is fixed, so this is deterministic.
    EXPECT_EQ(*std::min_element(l.begin(), l.end()), lo) << "T=" << T;
    EXPECT_EQ(*std::max_element(l.begin(), l.end()), T) << "T=" << T;
  }
}

TEST(DrawLengths, SeededReproducibleAndSeedSensitive) {
  EXPECT_EQ(draw_lengths(64, 50, 3), draw_lengths(64, 50, 3));
  EXPECT_NE(draw_lengths(64, 50, 3), draw_lengths(64, 50, 4));
  // A prefix property: the first sequences' lengths do not depend on the batch size.
  const std::vector<int64_t> a = draw_lengths(8, 50, 3), b = draw_lengths(64, 50, 3);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
}

TEST(DrawLengths, LeftUnsorted) {
  const std::vector<int64_t> l = draw_lengths(64, 50, 1);
  EXPECT_FALSE(std::is_sorted(l.begin(), l.end()));
  EXPECT_FALSE(std::is_sorted(l.rbegin(), l.rend()));  // not longest-first either
}

TEST(DrawLengths, RoughlyUniform) {
  // Uniform on [50, 100]: mean 75, standard deviation sqrt((51^2 - 1) / 12) = 14.7; the mean of
  // 20000 draws has standard error 0.104, so +-0.6 is a 5.8-sigma band.
  const std::vector<int64_t> l = draw_lengths(20000, 100, 11);
  double sum = 0;
  for (int64_t v : l) sum += double(v);
  EXPECT_NEAR(sum / double(l.size()), 75.0, 0.6);
}

TEST(DrawLengths, RejectsEmptyShapes) {
  EXPECT_THROW(draw_lengths(0, 10, 1), Error);
  EXPECT_THROW(draw_lengths(4, 0, 1), Error);
}

TEST(DrawLengths, SeedPerBatchAndLength) {
  EXPECT_EQ(lengths_seed(1, 8, 25), lengths_seed(1, 8, 25));
  EXPECT_NE(lengths_seed(1, 8, 25), lengths_seed(1, 8, 50));
  EXPECT_NE(lengths_seed(1, 8, 25), lengths_seed(1, 16, 25));
  EXPECT_NE(lengths_seed(1, 8, 25), lengths_seed(2, 8, 25));
}

// ---- padding checks ------------------------------------------------------------------------

TEST(Padding, CountsAndZeroesOnlyPastEachEnd) {
  // T=3, B=2, width 2, lengths {3, 1}: sequence 1's steps 1 and 2 are padding (4 values).
  std::vector<float> v(12, 1.0f);
  const std::vector<int64_t> lengths = {3, 1};
  EXPECT_EQ(count_nonzero_padding(v, lengths, 3, 2, 2), 4);
  EXPECT_EQ(count_nonzero_padding(v, {}, 3, 2, 2), 0);  // no lengths: no padding
  zero_padding(v, lengths, 3, 2, 2);
  // Time-major [t][b][k]: (t=1,b=1) at 6..7, (t=2,b=1) at 10..11.
  const std::vector<float> expected = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0};
  EXPECT_EQ(v, expected);
  EXPECT_EQ(count_nonzero_padding(v, lengths, 3, 2, 2), 0);
  EXPECT_THROW(count_nonzero_padding(v, lengths, 3, 2, 3), Error);    // wrong size
  EXPECT_THROW(count_nonzero_padding(v, {3, 1, 1}, 3, 2, 2), Error);  // wrong count
}

TEST(Padding, TotalSteps) {
  EXPECT_EQ(total_steps({}, 25, 8), 200);
  EXPECT_EQ(total_steps({3, 1, 2}, 3, 3), 6);
}

// ---- FLOP and byte counts of varlen rows --------------------------------------------------

TEST(VarlenCounts, FlopsSumTheSequencesOwnLengths) {
  // T=10, B=3, I=3, H=5, 2 layers bi, lengths {10, 4, 7}: 21 steps instead of T*B = 30.
  // layer 0: 2 dirs * 2 * 21 * (3*5 + 25) = 3360; layer 1 (input 10): 2 * 2 * 21 * (50 + 25)
  // = 6300; forward 9660.
  const BenchShape s = shape(3, 5, 10, 2, true, 3, true);
  const PhaseCounts c = flop_counts(s, {10, 4, 7});
  EXPECT_EQ(c[Phase::kInference], 9660.0);
  EXPECT_EQ(c[Phase::kTrainForward], 9660.0);
  EXPECT_EQ(c[Phase::kBackward], 2 * 9660.0);
  EXPECT_EQ(c[Phase::kStep], 3 * 9660.0);
  // All lengths = T: exactly the full-length count.
  EXPECT_EQ(flop_counts(s, {10, 10, 10})[Phase::kInference], flop_counts(s)[Phase::kInference]);
  EXPECT_EQ(flop_counts(s)[Phase::kInference], 9660.0 * 30 / 21);
}

TEST(VarlenCounts, BytesCountOnlyRunningSteps) {
  // T=2, B=3, I=4, H=5, uni, lengths {2, 1, 1}: 4 steps. P = 55, states 15 each.
  // forward floats: x 4*4 + y 4*5 + P 55 + h0 15 + h_n 15 = 121 -> 484 bytes;
  // backward: 2*y 40 + 2*x 32 + 3*P 165 + 3*states 45 = 282 -> 1128 bytes.
  const PhaseCounts c = byte_counts(shape(3, 5, 2, 1, false, 4, true), {2, 1, 1});
  EXPECT_EQ(c[Phase::kInference], 484.0);
  EXPECT_EQ(c[Phase::kBackward], 1128.0);
  EXPECT_EQ(c[Phase::kStep], 484.0 + 1128.0);
}

TEST(VarlenCounts, FillCountsUsesTheLengthsAndJsonListsThem) {
  ShapeResult r;
  r.shape = shape(3, 5, 10, 2, true, 3, true);
  r.lengths = {10, 4, 7};
  Rates rates;
  rates.gemm_flop_per_s = 1e12;
  rates.copy_byte_per_s = 1e12;
  fill_counts(r, rates);
  EXPECT_EQ(r.flops[Phase::kInference], 9660.0);
  const nlohmann::json j = to_json({r}, rates)["shapes"][0];
  EXPECT_TRUE(j["variable_length"].get<bool>());
  EXPECT_EQ(j["lengths"].get<std::vector<int64_t>>(), r.lengths);
  EXPECT_EQ(j["phases"]["inference"]["flops"].get<double>(), 9660.0);
  EXPECT_EQ(j["name"], "B3 H5 T10 L2 bi I3 varlen");
  EXPECT_FALSE(j.contains("note"));
  // A row run differently (e.g. lengths sorted for cuDNN) says so in the JSON and the table.
  r.note = "lengths sorted longest-first";
  EXPECT_EQ(to_json({r}, rates)["shapes"][0]["note"], r.note);
  r.verified = true;
  r.elman.timed = true;
  std::ostringstream table;
  print_table(table, {r}, "x");
  EXPECT_NE(table.str().find("note: lengths sorted longest-first"), std::string::npos);
  EXPECT_NE(table.str().find("varlen rows:"), std::string::npos);
}

// ---- the verdict -------------------------------------------------------------------------

TEST(Disagreements, ToleranceByKindAndPaddingMustBeZero) {
  EXPECT_EQ(disagreements({{"y", 1e-6}, {"dx", 1e-4}, {"pad_y_elman", 0}}, 1e-5, 1e-3), "");
  EXPECT_NE(disagreements({{"y", 1e-4}}, 1e-5, 1e-3).find("y rel. error"), std::string::npos);
  EXPECT_NE(disagreements({{"dw", 2e-3}}, 1e-5, 1e-3), "");
  EXPECT_EQ(disagreements({{"dw", 2e-4}}, 1e-5, 1e-3), "");  // gradient tolerance, not forward
  EXPECT_NE(disagreements({{"pad_y_cudnn", 3}}, 1e-5, 1e-3).find("3 nonzero"), std::string::npos);
  EXPECT_NE(disagreements({{"h_n", std::numeric_limits<double>::infinity()}}, 1e-5, 1e-3), "");
  EXPECT_NE(disagreements({{"h_n", std::nan("")}}, 1e-5, 1e-3), "");
}

// ---- varlen shapes ----------------------------------------------------------------------------

TEST(VarlenShapes, NameEqualityAndFileField) {
  EXPECT_EQ(shape(8, 256, 25, 1, false, 0, true).name(), "B8 H256 T25 L1 uni varlen");
  EXPECT_FALSE(shape(8, 256, 25, 1, false) == shape(8, 256, 25, 1, false, 0, true));
  std::istringstream in(
      "8 256 25 1 uni varlen\n"
      "8 256 25 2 bi 128 varlen  # with an input size\n"
      "8 256 25 1 uni\n");
  const std::vector<BenchShape> s = parse_shapes(in, "v");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], shape(8, 256, 25, 1, false, 0, true));
  EXPECT_EQ(s[1], shape(8, 256, 25, 2, true, 128, true));
  EXPECT_FALSE(s[2].varlen);
  for (const char* bad : {"8 256 25 varlen uni\n", "8 256 25 1 varlen\n",
                          "8 256 25 1 uni varlen 128\n", "8 256 25 1 uni 128 9 varlen\n"}) {
    std::istringstream b(bad);
    EXPECT_THROW(parse_shapes(b, "bad"), Error) << bad;
  }
}

TEST(VarlenShapes, SelectionAddsAVarlenRowAfterEachShape) {
  GridSelection sel;
  sel.deepbench = true;
  sel.varlen = true;
  const std::vector<BenchShape> s = select_shapes(sel, BenchDevice::kCUDA);
  ASSERT_EQ(s.size(), 24u);
  for (size_t i = 0; i < s.size(); i += 2) {
    EXPECT_FALSE(s[i].varlen);
    BenchShape v = s[i];
    v.varlen = true;
    EXPECT_EQ(s[i + 1], v);
  }
  // --quick has varlen rows on each device without --varlen; with it, none is doubled.
  for (BenchDevice d : {BenchDevice::kCPU, BenchDevice::kCUDA}) {
    GridSelection q;
    q.quick = true;
    const std::vector<BenchShape> quick = select_shapes(q, d);
    EXPECT_GE(
        std::count_if(quick.begin(), quick.end(), [](const BenchShape& x) { return x.varlen; }), 1);
    q.varlen = true;
    const std::vector<BenchShape> all = select_shapes(q, d);
    for (size_t i = 0; i < all.size(); ++i)
      for (size_t j = i + 1; j < all.size(); ++j) EXPECT_FALSE(all[i] == all[j]) << all[i].name();
    for (const BenchShape& x : quick) {
      BenchShape v = x;
      v.varlen = true;
      EXPECT_EQ(std::count(all.begin(), all.end(), v), 1) << v.name();
    }
  }
}

// ---- streaming ------------------------------------------------------------------------------

TEST(Streaming, ShapesAreUnidirectionalWithBatchOne) {
  for (BenchDevice d : {BenchDevice::kCPU, BenchDevice::kCUDA})
    for (bool quick : {true, false}) {
      const std::vector<StreamShape> s = streaming_shapes(d, quick);
      ASSERT_FALSE(s.empty());
      EXPECT_TRUE(
          std::any_of(s.begin(), s.end(), [](const StreamShape& x) { return x.batch == 1; }));
      EXPECT_TRUE(
          std::any_of(s.begin(), s.end(), [](const StreamShape& x) { return x.batch > 1; }));
      for (const StreamShape& x : s) EXPECT_FALSE(x.options().bidirectional);
    }
  EXPECT_EQ(streaming_shapes(BenchDevice::kCUDA, false).size(), 12u);
  // The CPU quick subset stays small: no step above 2 MFLOP (tens of microseconds on one core),
  // so 3 passes over 1050 steps on two sides take about a second.
  for (const StreamShape& x : streaming_shapes(BenchDevice::kCPU, true))
    EXPECT_LE(step_flops(x), 2.2e6) << x.name();
}

TEST(Streaming, ShapesFromAFileDropBidirectionalAndDuplicates) {
  const std::vector<StreamShape> s =
      stream_shapes_from({shape(8, 256, 25, 1, false), shape(8, 256, 50, 1, false, 0, true),
                          shape(8, 256, 25, 1, true), shape(1, 128, 10, 2, false, 64)});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name(), "B8 H256 L1 stream");
  EXPECT_EQ(s[1].name(), "B1 H128 L2 stream I64");
}

TEST(Streaming, StepFlopsByHand) {
  // B=2, H=4, I=3, 2 layers: layer 0 2*2*(3*4 + 16) = 112, layer 1 2*2*(16 + 16) = 128.
  EXPECT_EQ(step_flops(StreamShape{2, 4, 2, 3}), 240.0);
  // One step is the full-sequence forward count with T = 1.
  const StreamShape s{8, 256, 2, 128};
  EXPECT_EQ(step_flops(s), flop_counts(shape(8, 256, 1, 2, false, 128))[Phase::kInference]);
}

TEST(Streaming, ReportRatioIsPeerOverElmanFromAgreeingPeersOnly) {
  StreamResult r;
  r.shape = StreamShape{1, 256, 1, 256};
  r.steps = 1000;
  r.timing = "test";
  r.elman.name = "elman";
  r.elman.status = "ok";
  r.elman.timed = true;
  r.elman.per_step = summarize({0.010, 0.020, 0.030});  // median 20 us
  StreamSide wrong, slow, fast;
  wrong.name = "A";
  wrong.status = "disagrees";
  wrong.timed = true;
  wrong.per_step = summarize({0.001});
  slow.name = "B";
  slow.status = "ok";
  slow.timed = true;
  slow.per_step = summarize({0.080});
  fast = slow;
  fast.name = "C";
  fast.per_step = summarize({0.050});
  r.peers = {wrong, slow, fast};
  r.verified = true;
  ASSERT_NE(best_stream_peer(r), nullptr);
  EXPECT_EQ(best_stream_peer(r)->name, "C");
  const nlohmann::json j = stream_to_json({r})[0];
  EXPECT_DOUBLE_EQ(j["ratio_peer_over_elman"].get<double>(), 2.5);  // 50 us / 20 us
  EXPECT_DOUBLE_EQ(j["elman_us_per_step"].get<double>(), 20.0);
  EXPECT_EQ(j["peer"], "C");
  EXPECT_EQ(j["elman"]["per_step"]["samples_ms"].size(), 3u);
  std::ostringstream table;
  print_stream_table(table, {r}, "PyTorch");
  EXPECT_NE(table.str().find("B1 H256 L1 stream"), std::string::npos);
  EXPECT_NE(table.str().find("2.50"), std::string::npos);
  // Without an agreeing peer: no ratio.
  r.peers = {wrong};
  EXPECT_FALSE(stream_to_json({r})[0].contains("ratio_peer_over_elman"));
}

}  // namespace
}  // namespace elman::bench
