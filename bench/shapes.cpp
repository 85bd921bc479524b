// The benchmark's shape lists and the --shapes file parser (format documented in shapes.h).
#include "bench/shapes.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "elman/error.h"

namespace elman::bench {

RNNOptions BenchShape::options() const {
  RNNOptions o;
  o.input_size = input_size;
  o.hidden_size = hidden;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  return o;
}

std::string BenchShape::name() const {
  std::ostringstream os;
  os << "B" << batch << " H" << hidden << " T" << seq_len << " L" << layers << " "
     << (bidirectional ? "bi" : "uni");
  if (input_size != hidden) os << " I" << input_size;
  if (varlen) os << " varlen";
  return os.str();
}

bool BenchShape::operator==(const BenchShape& o) const {
  return batch == o.batch && hidden == o.hidden && seq_len == o.seq_len && layers == o.layers &&
         bidirectional == o.bidirectional && input_size == o.input_size && varlen == o.varlen;
}

static BenchShape make(int64_t b, int64_t h, int64_t t, int64_t l, bool bi, int64_t i = 0) {
  return BenchShape{b, h, t, l, bi, i > 0 ? i : h};
}

static BenchShape varlen_of(BenchShape s) {
  s.varlen = true;
  return s;
}

std::vector<BenchShape> full_grid() {
  std::vector<BenchShape> shapes;
  for (int64_t h : {128, 256, 512, 1024, 1760, 2560})
    for (int64_t b : {1, 8, 32, 64, 256})
      for (int64_t t : {25, 50, 100})
        for (int64_t l : {1, 2})
          for (bool bi : {false, true}) shapes.push_back(make(b, h, t, l, bi));
  return shapes;
}

std::vector<BenchShape> deepbench_shapes() {
  std::vector<BenchShape> shapes;
  for (int64_t h : {1760, 2048, 2560})
    for (int64_t b : {16, 32, 64, 128}) shapes.push_back(make(b, h, 50, 1, false));
  return shapes;
}

std::vector<BenchShape> quick_grid(BenchDevice device) {
  if (device == BenchDevice::kCPU) {
    // Small enough that both sides, 4 phases, >= 20 runs each, take about a minute on 2 cores.
    return {make(1, 128, 25, 1, false),
            make(8, 128, 25, 1, false),
            make(32, 128, 25, 1, false),
            make(1, 256, 25, 1, false),
            make(8, 256, 25, 1, false),
            make(32, 256, 25, 1, false),
            make(8, 128, 25, 2, true),
            make(8, 256, 25, 2, true),
            varlen_of(make(8, 256, 25, 1, false)),
            varlen_of(make(8, 128, 25, 2, true))};
  }
  std::vector<BenchShape> shapes;
  for (int64_t h : {256, 1024})
    for (int64_t b : {8, 64})
      for (bool bi : {false, true}) shapes.push_back(make(b, h, 50, 1, bi));
  shapes.push_back(make(32, 512, 25, 2, true));
  shapes.push_back(make(32, 1760, 50, 1, false));  // a DeepBench shape
  shapes.push_back(varlen_of(make(64, 1024, 50, 1, false)));
  shapes.push_back(varlen_of(make(32, 512, 25, 2, true)));
  return shapes;
}

static std::vector<BenchShape> plain_selection(const GridSelection& sel, BenchDevice device) {
  const int chosen = int(sel.quick) + int(sel.deepbench) + int(!sel.shapes_file.empty());
  if (chosen > 1)
    throw Error("select_shapes: --quick, --deepbench and --shapes exclude each other, got " +
                std::to_string(chosen) + " of them");
  if (sel.quick) return quick_grid(device);
  if (sel.deepbench) return deepbench_shapes();
  if (!sel.shapes_file.empty()) return read_shapes_file(sel.shapes_file);
  std::vector<BenchShape> shapes = full_grid();
  for (const BenchShape& s : deepbench_shapes()) {
    bool seen = false;
    for (const BenchShape& g : shapes) seen = seen || g == s;
    if (!seen) shapes.push_back(s);
  }
  return shapes;
}

std::vector<BenchShape> select_shapes(const GridSelection& sel, BenchDevice device) {
  const std::vector<BenchShape> plain = plain_selection(sel, device);
  if (!sel.varlen) return plain;
  std::vector<BenchShape> shapes;
  auto contains = [&](const BenchShape& s) {
    for (const BenchShape& t : plain)
      if (t == s) return true;
    return false;
  };
  for (const BenchShape& s : plain) {
    shapes.push_back(s);
    if (!s.varlen && !contains(varlen_of(s))) shapes.push_back(varlen_of(s));
  }
  return shapes;
}

std::vector<BenchShape> parse_shapes(std::istream& in, const std::string& source) {
  std::vector<BenchShape> shapes;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::vector<std::string> tok;
    for (std::string w; fields >> w;) tok.push_back(w);
    if (tok.empty()) continue;
    const std::string where = source + ":" + std::to_string(lineno) + ": ";
    const bool varlen = tok.back() == "varlen";
    if (varlen) tok.pop_back();
    if (tok.size() != 5 && tok.size() != 6)
      throw Error("parse_shapes: " + where + "expected 'batch hidden seq_len layers uni|bi " +
                  "[input_size] [varlen]', got " + std::to_string(tok.size() + varlen) + " fields");
    auto number = [&](const std::string& w, const char* what) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(w, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != w.size() || v <= 0 || v > std::numeric_limits<int32_t>::max())
        throw Error("parse_shapes: " + where + what + " must be a positive integer, got '" + w +
                    "'");
      return static_cast<int64_t>(v);
    };
    BenchShape s;
    s.batch = number(tok[0], "batch");
    s.hidden = number(tok[1], "hidden");
    s.seq_len = number(tok[2], "seq_len");
    s.layers = number(tok[3], "layers");
    if (tok[4] == "uni")
      s.bidirectional = false;
    else if (tok[4] == "bi")
      s.bidirectional = true;
    else
      throw Error("parse_shapes: " + where + "direction must be 'uni' or 'bi', got '" + tok[4] +
                  "'");
    s.input_size = tok.size() == 6 ? number(tok[5], "input_size") : s.hidden;
    s.varlen = varlen;
    shapes.push_back(s);
  }
  if (shapes.empty()) throw Error("parse_shapes: " + source + " holds no shape");
  return shapes;
}

std::vector<BenchShape> read_shapes_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("read_shapes_file: cannot open '" + path + "'");
  return parse_shapes(in, path);
}

}  // namespace elman::bench
