// The streaming-latency case of elman-bench: per-step latency of RNN::step_into (state updated in
// place, nothing allocated) against a one-step peer, its shapes, results, table and JSON.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/flops.h"
#include "bench/shapes.h"
#include "elman/rnn.h"

namespace elman::bench {

// A unidirectional model fed one time step at a time (no T: the stream is as long as the run).
struct StreamShape {
  int64_t batch = 0;
  int64_t hidden = 0;
  int64_t layers = 1;
  int64_t input_size = 0;  // = hidden unless a shape file says otherwise

  RNNOptions options() const;  // tanh, bias, unidirectional
  std::string name() const;    // "B1 H256 L1 stream" (+ " I512" when input != hidden)
  bool operator==(const StreamShape& o) const;
};

// --streaming's shapes: batch {1, 8, 64} x hidden {256, 1024} x layers {1, 2} (12); the --quick
// subset has batch 1 and a few larger batches, small enough on the CPU for two cores.
std::vector<StreamShape> streaming_shapes(BenchDevice device, bool quick);
// The unidirectional shapes of a --shapes file, T and varlen dropped, duplicates removed.
std::vector<StreamShape> stream_shapes_from(const std::vector<BenchShape>& shapes);

// FLOPs of one step: sum over layers of 2*B*(I_l*H + H*H), I_l = input for layer 0, H above.
double step_flops(const StreamShape& s);

// One side of a streaming shape: elman's step_into, PyTorch's nn.RNN on one step, or cuDNN's
// cudnnRNNForward with seqLength 1 (one algorithm).
struct StreamSide {
  std::string name;
  std::string status = "not run";  // "ok", "rejected", "disagrees", "error", "not run"
  std::string reason;
  std::map<std::string, double> errors;  // relative errors of the agreement check
  bool timed = false;
  Summary per_step;   // one sample per measured step, ms
  Summary host_wall;  // GPU only: host wall clock per step, launch to synchronised (runs = 0 else)
};

struct StreamResult {
  StreamShape shape;
  int steps = 0;  // measured steps (after `warmup` untimed ones, state carried through all)
  int warmup = 0;
  std::string timing;  // how a step was timed, in words
  StreamSide elman;
  std::vector<StreamSide> peers;
  bool verified = false;  // elman's stream equals its full forward and a peer agreed
  std::string error;
};

const StreamSide* best_stream_peer(const StreamResult& r);

// elman's side of the agreement check, before any timing: streams x_steps ([B, I] each) through
// rnn.step_into from h0 and compares every output and the final state with elman's own full
// forward (ref_y [N, B, H] time-major, ref_h_n [L, B, H]). Fills elman.errors and the stream's
// final state (for checking the timed pass); on a disagreement sets elman.status/reason and
// returns false.
bool stream_matches_forward(RNN& rnn, const Tensor& h0, const std::vector<Tensor>& x_steps,
                            const std::vector<float>& ref_y, const std::vector<float>& ref_h_n,
                            StreamSide& elman, std::vector<float>& final_state);

// The table; its peer columns as print_table's (report.h). The JSON's entries name the fastest
// agreeing peer and, under "by_peer", every peer as to_json's phases do (times in us per step).
void print_stream_table(std::ostream& os, const std::vector<StreamResult>& results,
                        const std::string& peer_label,
                        const std::vector<std::string>& columns = {});
nlohmann::json stream_to_json(const std::vector<StreamResult>& results);

}  // namespace elman::bench
