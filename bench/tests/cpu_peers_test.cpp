// Tests of the CPU bench's two peers in its reports, on the CPU and without either peer: PyTorch
// and oneDNN side by side in the table and the JSON, a peer that is not available, the --train
// record, and the exchange with a Python script that cannot answer.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "bench/python_exchange.h"
#include "bench/report.h"
#include "bench/streaming.h"
#include "bench/train_bench.h"

namespace elman::bench {
namespace {

SideResult side(const std::string& name, const std::string& status, double ms) {
  SideResult s;
  s.name = name;
  s.status = status;
  s.timed = status == "ok";
  if (s.timed)
    for (int p = 0; p < kNumPhases; ++p) {
      s.phases[p].median_ms = ms;
      s.phases[p].runs = 20;  // a phase with no runs was not timed (best_peer skips it)
    }
  else
    s.reason = "why: " + status;
  return s;
}

ShapeResult row(const std::vector<SideResult>& peers) {
  ShapeResult r;
  r.shape = BenchShape{8, 128, 25, 1, false, 128};
  Rates rates;
  rates.gemm_flop_per_s = 1e11;
  rates.copy_byte_per_s = 1e10;
  fill_counts(r, rates);
  r.elman.name = "elman";
  r.elman.status = "ok";
  r.elman.timed = true;
  for (int p = 0; p < kNumPhases; ++p) r.elman.phases[p].median_ms = 2.0;
  r.peers = peers;
  r.verified = true;
  return r;
}

TEST(CpuPeersJson, EveryPhaseNamesBothPeersWithTimesAndRatios) {
  const ShapeResult r = row({side("pytorch", "ok", 6.0), side("onednn", "ok", 1.0)});
  const nlohmann::json q = to_json({r}, Rates{})["shapes"][0]["phases"]["backward"];
  EXPECT_DOUBLE_EQ(q["by_peer"]["pytorch"]["ms"].get<double>(), 6.0);
  EXPECT_DOUBLE_EQ(q["by_peer"]["pytorch"]["ratio_peer_over_elman"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(q["by_peer"]["onednn"]["ms"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(q["by_peer"]["onednn"]["ratio_peer_over_elman"].get<double>(), 0.5);
  EXPECT_EQ(q["peer"], "onednn");  // the fastest agreeing peer, as before
  EXPECT_DOUBLE_EQ(q["ratio_peer_over_elman"].get<double>(), 0.5);
}

TEST(CpuPeersJson, AMissingPeerSaysNotAvailableAndTheOtherStands) {
  const ShapeResult r = row({side("pytorch", "not available", 0), side("onednn", "ok", 4.0)});
  const nlohmann::json j = to_json({r}, Rates{})["shapes"][0];
  const nlohmann::json& p = j["phases"]["inference"]["by_peer"]["pytorch"];
  EXPECT_EQ(p["status"], "not available");
  EXPECT_EQ(p["reason"], "why: not available");
  EXPECT_FALSE(p.contains("ms"));
  EXPECT_FALSE(p.contains("ratio_peer_over_elman"));
  EXPECT_DOUBLE_EQ(
      j["phases"]["inference"]["by_peer"]["onednn"]["ratio_peer_over_elman"].get<double>(), 2.0);
  // A peer that cannot run a row (oneDNN: variable lengths) is listed with its reason too.
  const ShapeResult v = row({side("pytorch", "ok", 3.0), side("onednn", "rejected", 0)});
  const nlohmann::json vj = to_json({v}, Rates{})["shapes"][0]["phases"]["step"]["by_peer"];
  EXPECT_EQ(vj["onednn"]["status"], "rejected");
  EXPECT_DOUBLE_EQ(vj["pytorch"]["ratio_peer_over_elman"].get<double>(), 1.5);
}

TEST(CpuPeersTable, OneColumnPairPerPeerNotAvailableShown) {
  const ShapeResult r = row({side("pytorch", "not available", 0), side("onednn", "ok", 1.0)});
  std::ostringstream os;
  print_table(os, {r}, "unused", {"pytorch", "onednn"});
  const std::string t = os.str();
  EXPECT_NE(t.find("pytorch ms"), std::string::npos) << t;
  EXPECT_NE(t.find("onednn ms"), std::string::npos) << t;
  EXPECT_NE(t.find("n/a"), std::string::npos) << t;
  EXPECT_NE(t.find("1.0000   0.50"), std::string::npos) << t;  // oneDNN's ms and ratio
  EXPECT_NE(t.find("pytorch: not available - why: not available"), std::string::npos) << t;
  // Without columns, the GPU's layout: the fastest peer by name.
  std::ostringstream gpu;
  print_table(gpu, {r}, "cuDNN algo");
  EXPECT_NE(gpu.str().find("peer (cuDNN algo)"), std::string::npos) << gpu.str();
}

TEST(CpuPeersStream, ByPeerInMicrosecondsPerStep) {
  StreamResult r;
  r.shape = StreamShape{1, 128, 1, 128};
  r.steps = 1000;
  r.elman.name = "elman";
  r.elman.status = "ok";
  r.elman.timed = true;
  r.elman.per_step.median_ms = 0.004;
  r.verified = true;
  StreamSide p, o;
  p.name = "pytorch";
  p.status = "not available";
  p.reason = "no torch";
  o.name = "onednn";
  o.status = "ok";
  o.timed = true;
  o.per_step.median_ms = 0.003;
  r.peers = {p, o};
  const nlohmann::json j = stream_to_json({r})[0]["by_peer"];
  EXPECT_EQ(j["pytorch"]["status"], "not available");
  EXPECT_DOUBLE_EQ(j["onednn"]["us_per_step"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(j["onednn"]["ratio_peer_over_elman"].get<double>(), 0.75);
  std::ostringstream os;
  print_stream_table(os, {r}, "unused", {"pytorch", "onednn"});
  EXPECT_NE(os.str().find("onednn us"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("n/a"), std::string::npos) << os.str();
}

TrainResult train_result() {
  TrainResult r;
  r.text = "data/tinyshakespeare.txt";
  r.chars = 300000;
  r.vocabulary = 61;
  r.hidden = 128;
  r.batch = 32;
  r.seq_len = 50;
  r.bptt = 50;
  r.sequences = 5400;
  r.lr = 0.01f;
  r.clip = 5.0f;
  r.elman.status = "ok";
  r.elman.seq_per_s = 6000;
  r.elman.seconds = 0.9;
  r.elman.loss = 2.000;
  return r;
}

TrainSide pytorch_run(int threads, double seq_per_s, double loss) {
  TrainSide p;
  p.status = "ok";
  p.threads = threads;
  p.seq_per_s = seq_per_s;
  p.seconds = 5400 / seq_per_s;
  p.loss = loss;
  return p;
}

TEST(TrainJson, RatioOfElmanOverTheBestPyTorchRun) {
  TrainResult r = train_result();
  r.pytorch = {pytorch_run(1, 4000, 2.0004), pytorch_run(2, 3000, 2.001)};
  const nlohmann::json t = train_to_json(r)["train"];
  EXPECT_DOUBLE_EQ(t["elman_seq_per_s"].get<double>(), 6000);
  EXPECT_DOUBLE_EQ(t["pytorch_seq_per_s"].get<double>(), 4000);  // 1 thread was the faster
  EXPECT_EQ(t["pytorch_threads"], 1);
  EXPECT_DOUBLE_EQ(t["ratio"].get<double>(), 1.5);
  EXPECT_EQ(t["pytorch_runs"].size(), 2u);
  EXPECT_NEAR(t["loss_relative_difference"].get<double>(), 0.0004 / 2.0004, 1e-12);
  EXPECT_TRUE(t["losses_agree"].get<bool>());
  EXPECT_EQ(t["config"]["batch"], 32);
  EXPECT_EQ(t["config"]["hidden"], 128);
  EXPECT_DOUBLE_EQ(t["elman_loss"].get<double>(), 2.0);
  // Losses 1 % apart (what another batch order gives): not the same training, and it says so.
  r.pytorch = {pytorch_run(1, 4000, 2.02)};
  EXPECT_FALSE(train_to_json(r)["train"]["losses_agree"].get<bool>());
  EXPECT_FALSE(train_losses_agree(r));
}

TEST(TrainJson, PyTorchNotAvailableLeavesNullsAndSaysWhy) {
  TrainResult r = train_result();
  TrainSide missing;
  missing.status = "not available";
  missing.reason = "PyTorch is not installed";
  r.pytorch = {missing};
  const nlohmann::json t = train_to_json(r)["train"];
  EXPECT_EQ(t["pytorch_status"], "not available");
  EXPECT_EQ(t["pytorch_reason"], "PyTorch is not installed");
  EXPECT_TRUE(t["pytorch_seq_per_s"].is_null());
  EXPECT_TRUE(t["ratio"].is_null());
  EXPECT_TRUE(t["losses_agree"].is_null());
  EXPECT_DOUBLE_EQ(t["elman_seq_per_s"].get<double>(), 6000);
  EXPECT_EQ(r.best_pytorch(), nullptr);
  std::ostringstream os;
  print_train(os, r);
  EXPECT_NE(os.str().find("not available: PyTorch is not installed"), std::string::npos)
      << os.str();
}

// ---- a Python side that cannot answer --------------------------------------------------------

class AskPython : public ::testing::Test {
 protected:
  // A "script" run by /bin/sh in place of Python: exits with `code` after printing `out`.
  std::string script(const std::string& out, int code) {
    const std::filesystem::path p = dir_.path() / ("s" + std::to_string(n_++) + ".sh");
    std::ofstream(p) << "printf '%s' '" << out << "'\nexit " << code << "\n";
    return p.string();
  }
  TempDir dir_;
  int n_ = 0;
};

TEST_F(AskPython, MissingInterpreterScriptErrorAndGarbageSayWhy) {
  std::string why;
  EXPECT_TRUE(ask_python("/nonexistent/python3", "x.py", "r.json", &why).is_null());
  EXPECT_NE(why.find("'/nonexistent/python3' was not found"), std::string::npos) << why;
  why.clear();
  EXPECT_TRUE(
      ask_python("/bin/sh", script(R"({"error": "no torch here"})", 3), "r", &why).is_null());
  EXPECT_EQ(why, "no torch here");
  why.clear();
  EXPECT_TRUE(ask_python("/bin/sh", script("not json", 0), "r", &why).is_null());
  EXPECT_NE(why.find("not JSON"), std::string::npos) << why;
  why.clear();
  EXPECT_TRUE(ask_python("/bin/sh", script("", 5), "r", &why).is_null());
  EXPECT_NE(why.find("exited with status 5"), std::string::npos) << why;
  const nlohmann::json ok = ask_python("/bin/sh", script(R"({"a": 1})", 0), "r", &why);
  EXPECT_EQ(ok["a"], 1);
}

}  // namespace
}  // namespace elman::bench
