// The CPU side of elman-bench: elman's CPU backend against two peers on the same weights and
// inputs, agreement checked: oneDNN's RNN primitive in process, PyTorch's nn.RNN in
// bench/pytorch_cpu.py (raw float32 files).
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench/agreement.h"
#include "bench/bench_config.h"
#include "bench/host_timer.h"
#include "bench/onednn_peer.h"
#include "bench/python_exchange.h"
#include "bench/varlen.h"
#include "elman/elman.h"
#include "host/backend.h"
#include "host/cpu/kernels.h"

extern "C" int openblas_get_num_threads(void);

namespace elman::bench {

std::vector<float> random_values(int64_t n, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : v) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x = static_cast<float>(static_cast<double>(z >> 40) * 0x1.0p-24 * 2.0 - 1.0);
  }
  return v;
}

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Rates measure_cpu_rates() {
  Rates rates;
  Context ctx(Device::cpu());
  constexpr int64_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n, 0.0f);
  const Summary g = time_host(
      1, 5, [](int) {},
      [&](int) {
        detail::backend_of(ctx).gemm(detail::Trans::kN, detail::Trans::kN, n, n, n, 1.0f, a.data(),
                                     n, b.data(), n, 0.0f, c.data(), n);
      });
  rates.gemm_flop_per_s = 2.0 * n * n * n / (g.median_ms * 1e-3);
  rates.gemm_what = "SGEMM 1024^3 FP32 (OpenBLAS through elman's CPU backend), median of 5";
  const size_t bytes = size_t(256) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  const Summary m = time_host(
      1, 5, [](int) {}, [&](int) { std::memcpy(dst.data(), src.data(), bytes); });
  rates.copy_byte_per_s = 2.0 * double(bytes) / (m.median_ms * 1e-3);
  rates.copy_what = "memcpy 256 MiB (read + write), median of 5";
  return rates;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// elman's results on input set 0, kept for the comparison with its peers'.
using Reference = ElmanResults;

// What elman ran on a shape, kept for oneDNN (the PyTorch script reads the same from files).
struct PeerInputs {
  std::vector<float> params;  // elman's flat parameters, PyTorch's order
  std::vector<CpuInputSet> sets;
};

// A peer's results on input set 0 against elman's: the relative errors into p.errors, and
// p.status "ok" or "disagrees" (the failures in p.reason).
void judge_peer(const PeerResults& out, const Reference& ref, const ShapeResult& r, SideResult& p) {
  const BenchShape& s = r.shape;
  const int64_t T = s.seq_len, B = s.batch, DH = s.directions() * s.hidden;
  p.errors["y_inference"] = relative_error(out.y_inference, ref.y_inference);
  p.errors["y"] = relative_error(out.y, ref.y);
  p.errors["h_n"] = relative_error(out.h_n, ref.h_n);
  p.errors["dx"] = relative_error(out.dx, ref.dx);
  p.errors["dh0"] = relative_error(out.dh0, ref.dh0);
  p.errors["dw"] = relative_error(out.dw, ref.dw);
  if (s.varlen) {  // outputs past each end are zero on both sides; elman's dx there too
    p.errors["pad_y_inference_elman"] = double(ref.pad_y_inference);
    p.errors["pad_y_elman"] = double(ref.pad_y);
    p.errors["pad_dx_elman"] = double(ref.pad_dx);
    p.errors["pad_y_inference_" + p.name] =
        double(count_nonzero_padding(out.y_inference, r.lengths, T, B, DH));
    p.errors["pad_y_" + p.name] = double(count_nonzero_padding(out.y, r.lengths, T, B, DH));
  }
  p.reason = disagreements(p.errors, kForwardTolerance, kGradientTolerance);
  p.status = p.reason.empty() ? "ok" : "disagrees";
}

// Runs and times elman on shape s; writes the model and input sets for the PyTorch script into
// `dir` and keeps them in `inputs` for oneDNN.
void run_elman_shape(const BenchShape& s, const BenchConfig& cfg, const fs::path& dir,
                     ShapeResult& r, Reference& ref, PeerInputs& inputs) {
  Context ctx(Device::cpu());
  RNN rnn(ctx, s.options(), cfg.seed);
  const int64_t T = s.seq_len, B = s.batch, H = s.hidden, D = s.directions();
  const int64_t LD = s.layers * D;
  const std::vector<int64_t>& lens = r.lengths;  // empty: every sequence runs T steps
  struct Set {
    Tensor x, h0, dy, dhy;
  };
  std::vector<Set> sets;
  fs::create_directories(dir);
  inputs.params = rnn.flat_parameters().to_vector();
  write_floats(dir / "params.bin", inputs.params);
  for (int k = 0; k < cfg.rotations; ++k) {
    const uint64_t seed = cfg.seed * 1000003u + uint64_t(k) * 4;
    std::vector<float> x = random_values(T * B * s.input_size, seed);
    std::vector<float> h0 = random_values(LD * B * H, seed + 1);
    std::vector<float> dy = random_values(T * B * D * H, seed + 2);
    std::vector<float> dhy = random_values(LD * B * H, seed + 3);
    const std::string n = std::to_string(k);
    write_floats(dir / ("x" + n + ".bin"), x);
    write_floats(dir / ("h0" + n + ".bin"), h0);
    write_floats(dir / ("dy" + n + ".bin"), dy);
    write_floats(dir / ("dhy" + n + ".bin"), dhy);
    sets.push_back({Tensor::from_vector({T, B, s.input_size}, x),
                    Tensor::from_vector({LD, B, H}, h0), Tensor::from_vector({T, B, D * H}, dy),
                    Tensor::from_vector({LD, B, H}, dhy)});
    inputs.sets.push_back({x, h0, dy, dhy});
  }
  RNNOutput inf_out, train_out;
  RNNCache cache;
  RNNInputGrads grads;
  ref = elman_results(rnn, sets[0].x, sets[0].h0, sets[0].dy, sets[0].dhy, lens, inf_out, train_out,
                      cache, grads);

  const int K = cfg.rotations, wu = cfg.warmup, runs = cfg.runs;
  auto in = [&](int i) -> const Set& { return sets[size_t(i % K)]; };
  auto none = [](int) {};
  r.elman.name = "elman";
  r.elman.phases[int(Phase::kInference)] =
      time_host(wu, runs, none, [&](int i) { rnn.forward_into(in(i).x, in(i).h0, inf_out, lens); });
  r.elman.phases[int(Phase::kTrainForward)] = time_host(wu, runs, none, [&](int i) {
    rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens);
  });
  r.elman.phases[int(Phase::kBackward)] = time_host(
      wu, runs, [&](int i) { rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens); },
      [&](int i) { rnn.backward_into(cache, in(i).dy, in(i).dhy, grads); });
  r.elman.phases[int(Phase::kStep)] = time_host(wu, runs, none, [&](int i) {
    rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens);
    rnn.backward_into(cache, in(i).dy, in(i).dhy, grads);
  });
  r.elman.timed = true;

  // What the Python side needs to rebuild the same model: PyTorch's names and shapes, in order.
  nlohmann::json names = nlohmann::json::array(), shapes = nlohmann::json::array();
  for (const std::string& name : rnn.parameter_names()) {
    names.push_back(name);
    shapes.push_back(rnn.parameter(name).shape());
  }
  nlohmann::json spec = {{"dir", dir.string()},
                         {"batch", B},
                         {"hidden", H},
                         {"seq_len", T},
                         {"layers", s.layers},
                         {"bidirectional", D == 2},
                         {"input_size", s.input_size},
                         {"param_names", names},
                         {"param_shapes", shapes}};
  if (!lens.empty()) spec["lengths"] = lens;
  std::ofstream(dir / "spec.json") << spec.dump();
}

// elman's full forward over the streamed sequence, for the comparison with its peers' streams,
// and what it ran on (for oneDNN; PyTorch reads the same from files).
struct StreamReference {
  std::vector<float> y, h_n;
  std::vector<float> params, x, h0;  // flat parameters, [N, B, I], [L, B, H]
};

// Streaming on the CPU: the agreement of step_into with elman's own full forward, then each of
// warmup + steps consecutive steps timed with the host clock (state carried in place).
void run_elman_stream(const StreamShape& s, const BenchConfig& cfg, const fs::path& dir,
                      StreamResult& r, StreamReference& ref) {
  Context ctx(Device::cpu());
  RNN rnn(ctx, s.options(), cfg.seed);
  const int64_t B = s.batch, H = s.hidden, I = s.input_size, L = s.layers;
  const int64_t N = cfg.stream_warmup + cfg.stream_steps;
  r.steps = cfg.stream_steps;
  r.warmup = cfg.stream_warmup;
  r.timing = "host clock (std::chrono::steady_clock) around each step";
  const uint64_t seed = cfg.seed * 1000003u + 977;
  const std::vector<float>& xs = ref.x = random_values(N * B * I, seed);
  const std::vector<float>& h0v = ref.h0 = random_values(L * B * H, seed + 1);
  ref.params = rnn.flat_parameters().to_vector();
  fs::create_directories(dir);
  write_floats(dir / "params.bin", ref.params);
  write_floats(dir / "x_stream.bin", xs);
  write_floats(dir / "h0_stream.bin", h0v);
  nlohmann::json names = nlohmann::json::array(), shapes = nlohmann::json::array();
  for (const std::string& name : rnn.parameter_names()) {
    names.push_back(name);
    shapes.push_back(rnn.parameter(name).shape());
  }
  std::ofstream(dir / "spec.json") << nlohmann::json{
      {"batch", B},
      {"hidden", H},
      {"layers", L},
      {"input_size", I},
      {"steps", cfg.stream_steps},
      {"warmup", cfg.stream_warmup},
      {"param_names", names},
      {"param_shapes", shapes}}.dump();

  const Tensor x_all = Tensor::from_vector({N, B, I}, xs);
  const Tensor h0 = Tensor::from_vector({L, B, H}, h0v);
  std::vector<Tensor> x_steps;  // views, made before any timing
  for (int64_t t = 0; t < N; ++t) x_steps.push_back(x_all.view({B, I}, t * B * I));
  RNNOutput full;
  rnn.forward_into(x_all, h0, full);
  ref.y = full.output.to_vector();
  ref.h_n = full.h_n.to_vector();

  // Agreement with elman's own full forward, before any timing.
  std::vector<float> checked_state;
  if (!stream_matches_forward(rnn, h0, x_steps, ref.y, ref.h_n, r.elman, checked_state)) return;

  // Timing: the same stream again from h0, one sample per step.
  RNNOutput out{Tensor::empty({B, H}), h0.clone()};
  std::vector<double> ms;
  ms.reserve(size_t(cfg.stream_steps));
  for (int64_t t = 0; t < N; ++t) {
    const auto t0 = Clock::now();
    rnn.step_into(x_steps[size_t(t)], out.h_n, out);
    const auto t1 = Clock::now();
    if (t >= cfg.stream_warmup)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  // The timed pass computed the same stream (its final state equals the checked pass's).
  r.elman.errors["timed_h_n_vs_checked"] = relative_error(out.h_n.to_vector(), checked_state);
  const std::string bad = disagreements(r.elman.errors, kStreamTolerance, kStreamTolerance);
  if (!bad.empty()) {
    r.elman.status = "disagrees";
    r.elman.reason = bad;
    return;
  }
  r.elman.per_step = summarize(ms);
  r.elman.timed = true;
  r.elman.status = "ok";
}

// oneDNN's side of a row before it runs: "not available", and why, without the plugin.
template <typename Side>
Side onednn_side() {
  Side p;
  p.name = "onednn";
  if (!onednn_peer(&p.reason)) p.status = "not available";
  return p;
}

// oneDNN on shape r.shape: first the agreement of its results on input set 0 with elman's, then
// the four phases timed as elman's are (inputs rotated, weight gradients accumulating). The
// primitives, the weight reorders and the argument lists are made before any timing (OnednnRNN).
SideResult run_onednn_shape(const ShapeResult& r, const PeerInputs& in, const Reference& ref,
                            const BenchConfig& cfg) {
  SideResult p = onednn_side<SideResult>();
  if (p.status == "not available") return p;
  if (r.shape.varlen) {
    p.status = "rejected";
    p.reason = "oneDNN's RNN primitive has no variable-length sequences";
    return p;
  }
  try {
    const std::unique_ptr<OnednnRNN> model = onednn_peer(nullptr)->make_rnn(
        r.shape.options(), r.shape.seq_len, r.shape.batch, in.params, in.sets);
    OnednnRNN& rnn = *model;
    judge_peer(rnn.results(0), ref, r, p);
    if (p.status != "ok") return p;
    const size_t K = in.sets.size();
    const int wu = cfg.warmup, runs = cfg.runs;
    auto none = [](int) {};
    p.phases[int(Phase::kInference)] =
        time_host(wu, runs, none, [&](int i) { rnn.inference(size_t(i) % K); });
    p.phases[int(Phase::kTrainForward)] =
        time_host(wu, runs, none, [&](int i) { rnn.train_forward(size_t(i) % K); });
    p.phases[int(Phase::kBackward)] = time_host(
        wu, runs, [&](int i) { rnn.train_forward(size_t(i) % K); },
        [&](int i) { rnn.backward(size_t(i) % K); });
    p.phases[int(Phase::kStep)] = time_host(wu, runs, none, [&](int i) {
      rnn.train_forward(size_t(i) % K);
      rnn.backward(size_t(i) % K);
    });
    p.timed = true;
  } catch (const std::exception& e) {
    p.status = "error";
    p.reason = failure_text(e);
  }
  return p;
}

// oneDNN's streaming step on the stream elman ran: its outputs and final state against elman's
// full forward, then each step timed (the state carried), as elman's steps are.
StreamSide run_onednn_stream(const StreamResult& r, const StreamReference& ref,
                             const BenchConfig& cfg) {
  StreamSide p = onednn_side<StreamSide>();
  if (p.status == "not available") return p;
  try {
    const std::unique_ptr<OnednnStream> model =
        onednn_peer(nullptr)->make_stream(r.shape.options(), r.shape.batch, ref.params);
    OnednnStream& stream = *model;
    const int64_t N = cfg.stream_warmup + cfg.stream_steps,
                  step = r.shape.batch * r.shape.input_size;
    std::vector<float> ys;
    ys.reserve(ref.y.size());
    stream.reset(ref.h0);
    for (int64_t t = 0; t < N; ++t) {
      stream.step(ref.x.data() + t * step);
      const std::vector<float> y = stream.output();
      ys.insert(ys.end(), y.begin(), y.end());
    }
    p.errors["stream_y_vs_elman_forward"] = relative_error(ys, ref.y);
    p.errors["stream_h_n_vs_elman_forward"] = relative_error(stream.state(), ref.h_n);
    p.reason = disagreements(p.errors, kForwardTolerance, kGradientTolerance);
    if (!p.reason.empty()) {
      p.status = "disagrees";
      return p;
    }
    std::vector<double> ms;
    ms.reserve(size_t(cfg.stream_steps));
    stream.reset(ref.h0);
    for (int64_t t = 0; t < N; ++t) {
      const auto t0 = Clock::now();
      stream.step(ref.x.data() + t * step);
      const auto t1 = Clock::now();
      if (t >= cfg.stream_warmup)
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    p.per_step = summarize(ms);
    p.timed = true;
    p.status = "ok";
  } catch (const std::exception& e) {
    p.status = "error";
    p.reason = failure_text(e);
  }
  return p;
}

// elman's verdict from its peers': verified when one agreed and none disagreed. A disagreement
// withholds elman's times (a fast wrong answer is not a result); with no peer, its times stand
// unverified.
template <typename Result>
void settle(Result& r) {
  bool agreed = false, disagreed = false;
  for (const auto& p : r.peers) {
    agreed = agreed || p.status == "ok";
    disagreed = disagreed || p.status == "disagrees";
  }
  r.verified = agreed && !disagreed;
  if (disagreed) {
    r.elman.timed = false;
    r.elman.status = "disagrees";
  } else {
    r.elman.status = agreed ? "ok" : "unverified";
  }
}

}  // namespace

BenchRun run_cpu_bench(const std::vector<BenchShape>& shapes,
                       const std::vector<StreamShape>& stream_shapes, const BenchConfig& config,
                       nlohmann::json& env, Rates& rates) {
  const int threads =
      config.threads > 0 ? config.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  env["device"] = cpu_model();
  env["cpu_cores"] = std::thread::hardware_concurrency();
  env["openblas_threads"] = openblas_get_num_threads();
  env["elman_threads"] = Context(Device::cpu()).num_threads();  // the fused recurrence's
  env["elman_cpu_kernels"] = detail::cpu::isa_name(detail::cpu::best_isa());
  env["pytorch_threads_requested"] = threads;
  std::string no_onednn;
  if (OnednnPeer* onednn = onednn_peer(&no_onednn)) {
    env["onednn"] = onednn->description();
    env["onednn_threads"] = onednn->set_threads(threads);  // by default every core
  } else {
    env["onednn"] = "not available: " + no_onednn;
    env["onednn_threads"] = 0;
  }
  env["onednn_timing"] =
      "primitive execute + stream wait; not timed: primitive creation, weight reorders into the "
      "primitives' layouts (once per shape, as a user caches them), gradient reorders back";
  rates = measure_cpu_rates();

  TempDir tmp;
  BenchRun run;
  std::vector<ShapeResult>& results = run.shapes;
  results.resize(shapes.size());
  std::vector<Reference> refs(shapes.size());
  nlohmann::json request = {{"runs", config.runs},
                            {"warmup", config.warmup},
                            {"rotations", config.rotations},
                            {"threads", threads},
                            {"shapes", nlohmann::json::array()},
                            {"streaming", nlohmann::json::array()}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    ShapeResult& r = results[i];
    r.shape = shapes[i];
    if (r.shape.varlen)
      r.lengths = draw_lengths(r.shape.batch, r.shape.seq_len,
                               lengths_seed(config.seed, r.shape.batch, r.shape.seq_len));
    fill_counts(r, rates);
    std::cerr << "[" << i + 1 << "/" << shapes.size() << "] elman and oneDNN " << r.shape.name()
              << "\n";
    const fs::path dir = tmp.path() / ("shape" + std::to_string(i));
    try {
      PeerInputs inputs;
      run_elman_shape(r.shape, config, dir, r, refs[i], inputs);
      request["shapes"].push_back(dir.string());
      r.peers.push_back(run_onednn_shape(r, inputs, refs[i], config));
    } catch (const std::exception& e) {
      r.error = failure_text(e);
      request["shapes"].push_back(nullptr);
    }
  }
  std::vector<StreamResult>& streams = run.streaming;
  streams.resize(stream_shapes.size());
  std::vector<StreamReference> stream_refs(stream_shapes.size());
  for (size_t i = 0; i < stream_shapes.size(); ++i) {
    StreamResult& r = streams[i];
    r.shape = stream_shapes[i];
    std::cerr << "[stream " << i + 1 << "/" << stream_shapes.size() << "] elman and oneDNN "
              << r.shape.name() << "\n";
    const fs::path dir = tmp.path() / ("stream" + std::to_string(i));
    try {
      run_elman_stream(r.shape, config, dir, r, stream_refs[i]);
      request["streaming"].push_back(dir.string());
      r.peers.push_back(run_onednn_stream(r, stream_refs[i], config));
    } catch (const std::exception& e) {
      r.error = failure_text(e);
      request["streaming"].push_back(nullptr);
    }
  }
  const fs::path req_path = tmp.path() / "request.json";
  std::ofstream(req_path) << request.dump(1);

  std::cerr << "running the PyTorch side: " << config.python << " " << config.script << "\n";
  std::string why;
  const nlohmann::json reply = ask_python(config.python, config.script, req_path, &why);
  if (reply.is_null()) {
    std::cerr << "\n*** PyTorch comparison unavailable: " << why
              << "\n*** (install Debian's python3-torch: apt-get install -y python3-torch)\n"
              << "*** its column says 'not available'; oneDNN's, where it ran, stands.\n\n";
    env["pytorch"] = "not available: " + why;
  } else {
    env["pytorch"] = reply.value("torch_version", "?");
    env["pytorch_threads"] = reply.value("threads", 0);
  }
  const nlohmann::json none = nlohmann::json::array();
  const nlohmann::json& shape_answers = reply.contains("shapes") ? reply["shapes"] : none;
  const nlohmann::json& stream_answers = reply.contains("streaming") ? reply["streaming"] : none;

  for (size_t i = 0; i < results.size(); ++i) {
    ShapeResult& r = results[i];
    SideResult p;
    p.name = "pytorch";
    if (reply.is_null()) {
      p.status = "not available";
      p.reason = why;
    } else if (!r.error.empty()) {
      continue;
    } else if (i >= shape_answers.size() || shape_answers[i].contains("error")) {
      p.status = "error";
      p.reason = i < shape_answers.size() ? shape_answers[i]["error"].get<std::string>()
                                          : "the PyTorch script returned no result";
    } else {
      const fs::path dir = tmp.path() / ("shape" + std::to_string(i));
      const Reference& ref = refs[i];
      PeerResults out;
      out.y_inference = read_floats(dir / "out_y_inference.bin", ref.y_inference.size());
      out.y = read_floats(dir / "out_y.bin", ref.y.size());
      out.h_n = read_floats(dir / "out_h_n.bin", ref.h_n.size());
      out.dx = read_floats(dir / "out_dx.bin", ref.dx.size());
      out.dh0 = read_floats(dir / "out_dh0.bin", ref.dh0.size());
      out.dw = read_floats(dir / "out_dw.bin", ref.dw.size());
      judge_peer(out, ref, r, p);
      if (p.status == "ok") {
        const nlohmann::json& times = shape_answers[i]["times_ms"];
        for (int ph = 0; ph < kNumPhases; ++ph)
          p.phases[ph] = summarize(times[phase_name(Phase(ph))].get<std::vector<double>>());
        p.timed = true;
      }
    }
    r.peers.push_back(p);
  }

  for (size_t i = 0; i < streams.size(); ++i) {
    StreamResult& r = streams[i];
    StreamSide p;
    p.name = "pytorch";
    if (reply.is_null()) {
      p.status = "not available";
      p.reason = why;
    } else if (!r.error.empty()) {
      continue;
    } else if (i >= stream_answers.size() || stream_answers[i].contains("error")) {
      p.status = "error";
      p.reason = i < stream_answers.size() ? stream_answers[i]["error"].get<std::string>()
                                           : "the PyTorch script returned no streaming result";
    } else {
      const fs::path dir = tmp.path() / ("stream" + std::to_string(i));
      const StreamReference& ref = stream_refs[i];
      p.errors["stream_y_vs_elman_forward"] =
          relative_error(read_floats(dir / "out_stream_y.bin", ref.y.size()), ref.y);
      p.errors["stream_h_n_vs_elman_forward"] =
          relative_error(read_floats(dir / "out_stream_h_n.bin", ref.h_n.size()), ref.h_n);
      p.reason = disagreements(p.errors, kForwardTolerance, kGradientTolerance);
      p.status = p.reason.empty() ? "ok" : "disagrees";
      if (p.status == "ok") {
        p.per_step = summarize(stream_answers[i]["times_ms"].get<std::vector<double>>());
        p.timed = true;
      }
    }
    r.peers.push_back(p);
  }

  for (ShapeResult& r : results)
    if (r.error.empty()) settle(r);
  for (StreamResult& r : streams)
    if (r.error.empty() && r.elman.status == "ok") settle(r);  // else its own check failed
  return run;
}

}  // namespace elman::bench
