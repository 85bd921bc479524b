// Benchmark shapes: the full grid (H x B x T x layers x directions), its --quick subsets,
// DeepBench's vanilla-RNN training shapes, the parser of --shapes files. Host code, CPU-tested.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "elman/rnn.h"

namespace elman::bench {

struct BenchShape {
  int64_t batch = 0;
  int64_t hidden = 0;
  int64_t seq_len = 0;
  int64_t layers = 1;
  bool bidirectional = false;
  int64_t input_size = 0;  // = hidden unless a shape file says otherwise
  // A variable-length row: per-sequence lengths drawn uniformly in [ceil(T/2), T], unsorted
  // (varlen.h), run with PyTorch's packed-sequence semantics on every side.
  bool varlen = false;

  int64_t directions() const { return bidirectional ? 2 : 1; }
  RNNOptions options() const;  // tanh, bias, time-major: what both sides run
  // "B8 H256 T50 L1 uni" (+ " I512" when input != hidden, + " varlen" for a varlen row)
  std::string name() const;
  bool operator==(const BenchShape& o) const;
};

enum class BenchDevice { kCUDA, kCPU };

// What the command line asked for: at most one of quick / deepbench / shapes_file; none of them
// means the full grid followed by the DeepBench shapes.
struct GridSelection {
  bool quick = false;
  bool deepbench = false;
  std::string shapes_file;
  bool varlen = false;  // add a variable-length row after each shape (--varlen)
};

// Batch {1,8,32,64,256} x hidden {128,256,512,1024,1760,2560} x T {25,50,100} x layers {1,2} x
// {uni, bi}: 360 shapes, input = hidden.
std::vector<BenchShape> full_grid();
// Hidden {1760, 2048, 2560} x batch {16, 32, 64, 128}, T = 50, one layer, uni, input = hidden.
std::vector<BenchShape> deepbench_shapes();
// A subset that finishes in under a minute: GPU shapes from the grid plus one DeepBench shape;
// CPU shapes small enough for two cores; on each device two variable-length rows (one uni, one
// 2-layer bi).
std::vector<BenchShape> quick_grid(BenchDevice device);
// The shapes of the selection; with sel.varlen each non-varlen shape is followed by its varlen
// row (unless the list already holds it).
std::vector<BenchShape> select_shapes(const GridSelection& sel, BenchDevice device);

// The --shapes file format: one shape per line,
//   batch hidden seq_len layers uni|bi [input_size] [varlen]
// whitespace-separated (a trailing 'varlen' makes it a variable-length row); '#' starts a comment;
// blank lines are ignored. Throws elman::Error naming `source` and the line on anything else.
std::vector<BenchShape> parse_shapes(std::istream& in, const std::string& source);
std::vector<BenchShape> read_shapes_file(const std::string& path);

}  // namespace elman::bench
