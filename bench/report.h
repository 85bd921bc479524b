// What a benchmark run produces (per shape: elman, its peers, counts, floors, agreement) and the
// two ways it is shown: the terminal table and the --json file.
#pragma once

#include <exception>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/flops.h"
#include "bench/shapes.h"

namespace elman::bench {

// One implementation on one shape: elman, one cuDNN algorithm, or PyTorch.
struct SideResult {
  std::string name;  // "elman", "STANDARD", "PERSIST_STATIC", "pytorch"
  // "ok", "inference only" (a peer that refuses training: its inference agreed and was timed),
  // "rejected", "disagrees", "error", "not run"
  std::string status = "not run";
  std::string reason;                    // why it is not "ok"
  std::map<std::string, double> errors;  // relative error per compared quantity (peers only)
  bool timed = false;
  Summary phases[kNumPhases];  // a phase with runs == 0 was not timed
};

struct ShapeResult {
  BenchShape shape;
  std::vector<int64_t> lengths;  // a varlen row's per-sequence lengths (user order); else empty
  PhaseCounts flops, bytes;
  Floors floors[kNumPhases];
  SideResult elman;  // elman's default algorithm on the device (kAuto)
  std::vector<SideResult> peers;
  // elman's other algorithms ("elman fused-step", ...), each checked against `elman`'s results
  // (relative errors in `errors`) before it is timed; rows show them beside every peer.
  std::vector<SideResult> algorithms;
  bool verified = false;  // elman agreed with at least one peer: only then are times reported
  std::string error;      // the shape failed as a whole (e.g. out of memory)
  std::string note;       // how the row was run, when it differs from the usual (shown and saved)
};

// The fastest agreeing peer of a phase ("ok", or "inference only" for inference); nullptr when
// none agreed or none timed that phase.
const SideResult* best_peer(const ShapeResult& r, Phase p);

// The measured machine rates behind the floors.
struct Rates {
  double gemm_flop_per_s = 0;  // large SGEMM (FP32, no TF32)
  double copy_byte_per_s = 0;  // device (or host) copy, bytes read + written per second
  std::string gemm_what, copy_what;
};

// flops, bytes and floors of r.shape (with r.lengths for a varlen row)
void fill_counts(ShapeResult& r, const Rates& rates);

// Why a row (or one peer's run of it) failed, for its error column: the exception's message, or
// for an allocation failure ("std::bad_alloc") what it means. A failing row never stops the run.
std::string failure_text(const std::exception& e);

// The terminal table. Its peer columns: with `columns` empty, the fastest agreeing peer's time
// and name under `peer_label` (the GPU's cuDNN algorithms); else a time and a ratio for each peer
// named in `columns` (the CPU's "pytorch" and "onednn"), side by side.
void print_table(std::ostream& os, const std::vector<ShapeResult>& results,
                 const std::string& peer_label, const std::vector<std::string>& columns = {});
// The --json record. Each phase has the fastest agreeing peer ("peer", "peer_ms", ...) and, under
// "by_peer", every peer by name: {"ms", "ratio_peer_over_elman"} when it agreed and was timed,
// else {"status", "reason"} ("not available" when the peer is missing).
nlohmann::json to_json(const std::vector<ShapeResult>& results, const Rates& rates);

// Pieces of the tables and the JSON shared by the shape and the streaming reports.
nlohmann::json summary_json(const Summary& s);
nlohmann::json errors_json(const std::map<std::string, double>& errors);  // inf as "inf"

// One peer's time in a row: `ms` is meaningful when `timed` (the peer agreed and was timed).
struct PeerTime {
  std::string name, status;
  bool timed = false;
  double ms = 0;
};
// The named peers' cells of a row (" time ratio" each, the time times `scale` with `decimals`
// digits, the ratio peer / elman), a peer without a time showing its status ("n/a": not
// available; "-": no such peer), and their header.
std::string named_peer_cells(const std::vector<PeerTime>& row,
                             const std::vector<std::string>& columns, double elman_ms, double scale,
                             int decimals);
std::string named_peer_header(const std::vector<std::string>& columns, const std::string& unit);
// by_peer's entry of one peer (see to_json); `scale` turns ms into the JSON's unit.
nlohmann::json by_peer_json(const PeerTime& peer, const std::string& reason, double elman_ms,
                            const std::string& time_key, double scale);

}  // namespace elman::bench
