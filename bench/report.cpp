// The terminal table and the JSON record of a run.
#include "bench/report.h"

#include <cmath>
#include <cstdio>
#include <new>
#include <ostream>
#include <stdexcept>

namespace elman::bench {

const SideResult* best_peer(const ShapeResult& r, Phase p) {
  const SideResult* best = nullptr;
  for (const SideResult& s : r.peers) {
    const bool agreed = s.status == "ok" || s.status == "inference only";
    if (!agreed || !s.timed || s.phases[int(p)].runs == 0) continue;  // runs 0: phase not timed
    if (!best || s.phases[int(p)].median_ms < best->phases[int(p)].median_ms) best = &s;
  }
  return best;
}

std::string failure_text(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) || dynamic_cast<const std::length_error*>(&e))
    return std::string("out of host memory: this row's buffers do not fit (") + e.what() + ")";
  return e.what();
}

void fill_counts(ShapeResult& r, const Rates& rates) {
  r.flops = flop_counts(r.shape, r.lengths);
  r.bytes = byte_counts(r.shape, r.lengths);
  for (int p = 0; p < kNumPhases; ++p)
    r.floors[p] = floors(r.flops.v[p], r.bytes.v[p], rates.gemm_flop_per_s, rates.copy_byte_per_s);
}

static std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string named_peer_cells(const std::vector<PeerTime>& row,
                             const std::vector<std::string>& columns, double elman_ms, double scale,
                             int decimals) {
  std::string cells;
  char buf[64];
  for (const std::string& name : columns) {
    const PeerTime* p = nullptr;
    for (const PeerTime& t : row)
      if (t.name == name) p = &t;
    std::string word = "-";  // no such peer in this row
    if (p) word = p->status == "not available" ? "n/a" : p->status;
    if (p && p->timed)
      std::snprintf(buf, sizeof buf, " %10.*f %6.2f", decimals, p->ms * scale, p->ms / elman_ms);
    else
      std::snprintf(buf, sizeof buf, " %10s %6s", word.c_str(), "-");
    cells += buf;
  }
  return cells;
}

std::string named_peer_header(const std::vector<std::string>& columns, const std::string& unit) {
  std::string cells;
  char buf[64];
  for (const std::string& name : columns) {
    std::snprintf(buf, sizeof buf, " %10s %6s", (name + " " + unit).c_str(), "ratio");
    cells += buf;
  }
  return cells;
}

nlohmann::json by_peer_json(const PeerTime& peer, const std::string& reason, double elman_ms,
                            const std::string& time_key, double scale) {
  if (!peer.timed) return {{"status", peer.status}, {"reason", reason}};
  nlohmann::json j = {{"status", peer.status}, {time_key, peer.ms * scale}};
  if (elman_ms > 0) j["ratio_peer_over_elman"] = peer.ms / elman_ms;
  return j;
}

static PeerTime phase_time(const SideResult& s, Phase p) {
  return {s.name, s.status, s.status == "ok" && s.timed, s.phases[int(p)].median_ms};
}

void print_table(std::ostream& os, const std::vector<ShapeResult>& results,
                 const std::string& peer_label, const std::vector<std::string>& columns) {
  char line[256];
  if (columns.empty())
    std::snprintf(line, sizeof line, "%-30s %-9s %10s %10s %-22s %7s", "shape", "phase", "elman ms",
                  "peer ms", ("peer (" + peer_label + ")").c_str(), "ratio");
  else
    std::snprintf(line, sizeof line, "%-30s %-9s %10s%s", "shape", "phase", "elman ms",
                  named_peer_header(columns, "ms").c_str());
  std::string head = line;
  std::snprintf(line, sizeof line, " %8s %9s %9s", "TFLOP/s", "floor.C", "floor.M");
  head += line;
  os << head << "\n" << std::string(head.size(), '-') << "\n";
  for (const ShapeResult& r : results) {
    const std::string name = r.shape.name();
    if (!r.error.empty()) {
      os << name << "  FAILED: " << r.error << "\n";
      continue;
    }
    if (!r.verified && !r.elman.timed) {
      os << name << "  NOT REPORTED: elman did not agree with its peers";
      for (const SideResult& s : r.peers)
        os << "; " << s.name << " " << s.status << (s.reason.empty() ? "" : " (" + s.reason + ")");
      os << "\n";
      continue;
    }
    for (int p = 0; p < kNumPhases; ++p) {
      const Phase ph = static_cast<Phase>(p);
      const double e = r.elman.phases[p].median_ms;
      const SideResult* peer = best_peer(r, ph);
      std::string row;
      if (columns.empty()) {
        const std::string peer_ms = peer ? fmt("%.4f", peer->phases[p].median_ms) : "-";
        const std::string ratio = peer ? fmt("%.2f", peer->phases[p].median_ms / e) : "-";
        std::snprintf(line, sizeof line, "%-30s %-9s %10.4f %10s %-22s %7s",
                      p == 0 ? name.c_str() : "", phase_name(ph), e, peer_ms.c_str(),
                      peer ? peer->name.c_str() : "-", ratio.c_str());
        row = line;
      } else {
        std::vector<PeerTime> times;
        for (const SideResult& s : r.peers) times.push_back(phase_time(s, ph));
        std::snprintf(line, sizeof line, "%-30s %-9s %10.4f", p == 0 ? name.c_str() : "",
                      phase_name(ph), e);
        row = line + named_peer_cells(times, columns, e, 1.0, 4);
      }
      std::snprintf(line, sizeof line, " %8.3f %9.4f %9.4f\n", tflop_per_s(r.flops.v[p], e),
                    r.floors[p].compute_ms, r.floors[p].memory_ms);
      os << row << line;
    }
    if (!r.verified) os << "    UNVERIFIED: elman's times above were not checked against a peer\n";
    for (const SideResult& a : r.algorithms) {
      os << "    " << a.name << ":";
      if (!a.timed) os << " " << a.status << (a.reason.empty() ? "" : " - " + a.reason);
      for (int p = 0; a.timed && p < kNumPhases; ++p) {
        const double ms = a.phases[p].median_ms;
        const SideResult* peer = best_peer(r, Phase(p));
        os << " " << phase_name(Phase(p)) << " " << fmt("%.4f", ms) << " ms (x"
           << fmt("%.2f", r.elman.phases[p].median_ms / ms) << " vs elman"
           << (peer ? ", x" + fmt("%.2f", peer->phases[p].median_ms / ms) + " vs " + peer->name
                    : std::string())
           << ")";
      }
      os << "\n";
    }
    if (!r.note.empty()) os << "    note: " << r.note << "\n";
    for (const SideResult& s : r.peers)
      if (s.status != "ok")
        os << "    " << s.name << ": " << s.status << (s.reason.empty() ? "" : " - " + s.reason)
           << "\n";
  }
  os << "ratio = peer ms / elman ms (> 1: elman is faster)"
     << (columns.empty() ? "" : "; n/a: the peer is not available")
     << ". TFLOP/s: elman's. floor.C = FLOPs / measured SGEMM rate, floor.M = minimal bytes / "
        "measured copy bandwidth (ms).\n";
  bool any_varlen = false;
  for (const ShapeResult& r : results) any_varlen = any_varlen || r.shape.varlen;
  if (any_varlen)
    os << "varlen rows: variable-length batches, lengths drawn uniformly in [ceil(T/2), T] "
          "(seeded, unsorted; listed in the JSON), PyTorch's packed-sequence semantics on both "
          "sides; FLOPs and bytes count each sequence's own steps, not T*B.\n";
}

nlohmann::json summary_json(const Summary& s) {
  return {{"median_ms", s.median_ms},
          {"min_ms", s.min_ms},
          {"max_ms", s.max_ms},
          {"runs", s.runs},
          {"samples_ms", s.samples_ms}};
}

nlohmann::json errors_json(const std::map<std::string, double>& errors) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : errors) j[k] = std::isfinite(v) ? nlohmann::json(v) : "inf";
  return j;
}

static nlohmann::json side_json(const SideResult& s) {
  nlohmann::json j = {{"name", s.name}, {"status", s.status}, {"reason", s.reason}};
  j["relative_errors"] = errors_json(s.errors);
  if (s.timed)
    for (int p = 0; p < kNumPhases; ++p)
      if (s.phases[p].runs > 0) j["times"][phase_name(Phase(p))] = summary_json(s.phases[p]);
  return j;
}

nlohmann::json to_json(const std::vector<ShapeResult>& results, const Rates& rates) {
  nlohmann::json shapes = nlohmann::json::array();
  for (const ShapeResult& r : results) {
    const BenchShape& s = r.shape;
    nlohmann::json j = {{"name", s.name()},           {"batch", s.batch},
                        {"hidden", s.hidden},         {"seq_len", s.seq_len},
                        {"layers", s.layers},         {"bidirectional", s.bidirectional},
                        {"input_size", s.input_size}, {"verified", r.verified},
                        {"error", r.error},           {"variable_length", s.varlen}};
    if (s.varlen) j["lengths"] = r.lengths;
    if (!r.note.empty()) j["note"] = r.note;
    j["elman"] = side_json(r.elman);
    j["peers"] = nlohmann::json::array();
    for (const SideResult& p : r.peers) j["peers"].push_back(side_json(p));
    j["elman_algorithms"] = nlohmann::json::array();
    for (const SideResult& a : r.algorithms) j["elman_algorithms"].push_back(side_json(a));
    for (int p = 0; p < kNumPhases; ++p) {
      const Phase ph = Phase(p);
      nlohmann::json q = {{"flops", r.flops.v[p]},
                          {"bytes", r.bytes.v[p]},
                          {"floor_compute_ms", r.floors[p].compute_ms},
                          {"floor_memory_ms", r.floors[p].memory_ms}};
      if (r.elman.timed) {
        const double e = r.elman.phases[p].median_ms;
        q["elman_ms"] = e;
        q["elman_tflop_per_s"] = tflop_per_s(r.flops.v[p], e);
        if (const SideResult* peer = best_peer(r, ph)) {
          q["peer"] = peer->name;
          q["peer_ms"] = peer->phases[p].median_ms;
          q["peer_tflop_per_s"] = tflop_per_s(r.flops.v[p], peer->phases[p].median_ms);
          q["ratio_peer_over_elman"] = peer->phases[p].median_ms / e;
        }
      }
      for (const SideResult& s : r.peers)
        q["by_peer"][s.name] =
            by_peer_json(phase_time(s, ph), s.reason,
                         r.elman.timed ? r.elman.phases[p].median_ms : 0, "ms", 1.0);
      j["phases"][phase_name(ph)] = q;
    }
    shapes.push_back(j);
  }
  return {{"rates",
           {{"gemm_flop_per_s", rates.gemm_flop_per_s},
            {"gemm", rates.gemm_what},
            {"copy_byte_per_s", rates.copy_byte_per_s},
            {"copy", rates.copy_what}}},
          {"shapes", shapes}};
}

}  // namespace elman::bench
