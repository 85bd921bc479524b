// Streaming shapes, step FLOPs, and the streaming table and JSON (documented in streaming.h).
#include "bench/streaming.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "bench/report.h"

namespace elman::bench {

RNNOptions StreamShape::options() const {
  RNNOptions o;
  o.input_size = input_size;
  o.hidden_size = hidden;
  o.num_layers = layers;
  return o;
}

std::string StreamShape::name() const {
  std::ostringstream os;
  os << "B" << batch << " H" << hidden << " L" << layers << " stream";
  if (input_size != hidden) os << " I" << input_size;
  return os.str();
}

bool StreamShape::operator==(const StreamShape& o) const {
  return batch == o.batch && hidden == o.hidden && layers == o.layers && input_size == o.input_size;
}

static StreamShape make(int64_t b, int64_t h, int64_t l) { return StreamShape{b, h, l, h}; }

std::vector<StreamShape> streaming_shapes(BenchDevice device, bool quick) {
  if (quick) {
    if (device == BenchDevice::kCPU) return {make(1, 128, 1), make(1, 256, 2), make(8, 256, 1)};
    return {make(1, 256, 1), make(1, 1024, 1), make(1, 1024, 2), make(8, 1024, 1),
            make(64, 1024, 1)};
  }
  std::vector<StreamShape> shapes;
  for (int64_t h : {256, 1024})
    for (int64_t b : {1, 8, 64})
      for (int64_t l : {1, 2}) shapes.push_back(make(b, h, l));
  return shapes;
}

std::vector<StreamShape> stream_shapes_from(const std::vector<BenchShape>& shapes) {
  std::vector<StreamShape> out;
  for (const BenchShape& s : shapes) {
    if (s.bidirectional) continue;
    const StreamShape t{s.batch, s.hidden, s.layers, s.input_size};
    bool seen = false;
    for (const StreamShape& u : out) seen = seen || u == t;
    if (!seen) out.push_back(t);
  }
  return out;
}

double step_flops(const StreamShape& s) {
  const double B = double(s.batch), H = double(s.hidden);
  double f = 0;
  for (int64_t l = 0; l < s.layers; ++l)
    f += 2.0 * B * (double(l == 0 ? s.input_size : s.hidden) * H + H * H);
  return f;
}

const StreamSide* best_stream_peer(const StreamResult& r) {
  const StreamSide* best = nullptr;
  for (const StreamSide& s : r.peers) {
    if (s.status != "ok" || !s.timed) continue;
    if (!best || s.per_step.median_ms < best->per_step.median_ms) best = &s;
  }
  return best;
}

static PeerTime step_time(const StreamSide& s) {
  return {s.name, s.status, s.status == "ok" && s.timed, s.per_step.median_ms};
}

void print_stream_table(std::ostream& os, const std::vector<StreamResult>& results,
                        const std::string& peer_label, const std::vector<std::string>& columns) {
  if (results.empty()) return;
  char line[256];
  if (columns.empty())
    std::snprintf(line, sizeof line, "%-24s %11s %11s %11s %-22s %7s %9s", "streaming shape",
                  "elman us", "elman p90", "peer us", ("peer (" + peer_label + ")").c_str(),
                  "ratio", "GFLOP/s");
  else
    std::snprintf(line, sizeof line, "%-24s %11s %11s%s %9s", "streaming shape", "elman us",
                  "elman p90", named_peer_header(columns, "us").c_str(), "GFLOP/s");
  const std::string head = line;
  os << head << "\n" << std::string(head.size(), '-') << "\n";
  for (const StreamResult& r : results) {
    const std::string name = r.shape.name();
    if (!r.error.empty()) {
      os << name << "  FAILED: " << r.error << "\n";
      continue;
    }
    if (!r.elman.timed) {
      os << name << "  NOT REPORTED: elman " << r.elman.status
         << (r.elman.reason.empty() ? "" : " (" + r.elman.reason + ")");
      for (const StreamSide& s : r.peers)
        os << "; " << s.name << " " << s.status << (s.reason.empty() ? "" : " (" + s.reason + ")");
      os << "\n";
      continue;
    }
    const double e = r.elman.per_step.median_ms;
    std::vector<double> sorted = r.elman.per_step.samples_ms;
    std::sort(sorted.begin(), sorted.end());
    const double p90 = sorted.empty() ? 0 : sorted[size_t(0.9 * double(sorted.size() - 1))];
    const double gflops = step_flops(r.shape) / (e * 1e-3) / 1e9;
    if (columns.empty()) {
      const StreamSide* peer = best_stream_peer(r);
      char peer_us[32] = "-", ratio[32] = "-";
      if (peer) {
        std::snprintf(peer_us, sizeof peer_us, "%.2f", peer->per_step.median_ms * 1e3);
        std::snprintf(ratio, sizeof ratio, "%.2f", peer->per_step.median_ms / e);
      }
      std::snprintf(line, sizeof line, "%-24s %11.2f %11.2f %11s %-22s %7s %9.2f\n", name.c_str(),
                    e * 1e3, p90 * 1e3, peer_us, peer ? peer->name.c_str() : "-", ratio, gflops);
      os << line;
    } else {
      std::vector<PeerTime> times;
      for (const StreamSide& s : r.peers) times.push_back(step_time(s));
      std::snprintf(line, sizeof line, "%-24s %11.2f %11.2f", name.c_str(), e * 1e3, p90 * 1e3);
      os << line << named_peer_cells(times, columns, e, 1e3, 2);
      std::snprintf(line, sizeof line, " %9.2f\n", gflops);
      os << line;
    }
    if (!r.verified) os << "    UNVERIFIED: no peer agreed with elman's stream\n";
    for (const StreamSide& s : r.peers)
      if (s.status != "ok")
        os << "    " << s.name << ": " << s.status << (s.reason.empty() ? "" : " - " + s.reason)
           << "\n";
  }
  os << "streaming: median (and 90th percentile) latency of one step over " << results[0].steps
     << " consecutive steps, state carried in place; " << results[0].timing
     << ". ratio = peer us / elman us (> 1: elman is faster). GFLOP/s: elman's.\n";
}

static nlohmann::json side_json(const StreamSide& s) {
  nlohmann::json j = {{"name", s.name}, {"status", s.status}, {"reason", s.reason}};
  j["relative_errors"] = errors_json(s.errors);
  if (s.timed) {
    j["per_step"] = summary_json(s.per_step);
    if (s.host_wall.runs > 0) j["host_wall_per_step"] = summary_json(s.host_wall);
  }
  return j;
}

nlohmann::json stream_to_json(const std::vector<StreamResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const StreamResult& r : results) {
    const StreamShape& s = r.shape;
    nlohmann::json j = {
        {"name", s.name()},         {"batch", s.batch},           {"hidden", s.hidden},
        {"layers", s.layers},       {"input_size", s.input_size}, {"steps", r.steps},
        {"warmup_steps", r.warmup}, {"timing", r.timing},         {"verified", r.verified},
        {"error", r.error},         {"step_flops", step_flops(s)}};
    j["elman"] = side_json(r.elman);
    j["peers"] = nlohmann::json::array();
    for (const StreamSide& p : r.peers) j["peers"].push_back(side_json(p));
    if (r.elman.timed) {
      const double e = r.elman.per_step.median_ms;
      j["elman_us_per_step"] = e * 1e3;
      if (const StreamSide* peer = best_stream_peer(r)) {
        j["peer"] = peer->name;
        j["peer_us_per_step"] = peer->per_step.median_ms * 1e3;
        j["ratio_peer_over_elman"] = peer->per_step.median_ms / e;
      }
    }
    for (const StreamSide& p : r.peers)
      j["by_peer"][p.name] =
          by_peer_json(step_time(p), p.reason, r.elman.timed ? r.elman.per_step.median_ms : 0,
                       "us_per_step", 1e3);
    out.push_back(j);
  }
  return out;
}

bool stream_matches_forward(RNN& rnn, const Tensor& h0, const std::vector<Tensor>& x_steps,
                            const std::vector<float>& ref_y, const std::vector<float>& ref_h_n,
                            StreamSide& elman, std::vector<float>& final_state) {
  const int64_t B = h0.size(1), H = h0.size(2);
  RNNOutput out;
  out.h_n = h0.clone();
  out.output = Tensor::empty({B, H}, h0.device());
  std::vector<float> streamed;
  streamed.reserve(x_steps.size() * size_t(B * H));
  for (const Tensor& x_t : x_steps) {
    rnn.step_into(x_t, out.h_n, out);
    const std::vector<float> y = out.output.to_vector();
    streamed.insert(streamed.end(), y.begin(), y.end());
  }
  elman.name = "elman";
  elman.errors["stream_y_vs_forward"] = relative_error(streamed, ref_y);
  final_state = out.h_n.to_vector();
  elman.errors["stream_h_n_vs_forward"] = relative_error(final_state, ref_h_n);
  const std::string bad = disagreements(elman.errors, kStreamTolerance, kStreamTolerance);
  if (bad.empty()) return true;
  elman.status = "disagrees";
  elman.reason = "step_into vs elman's full forward: " + bad;
  return false;
}

}  // namespace elman::bench
