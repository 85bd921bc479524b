// Data sets: validation, slicing, CSV column reading with missing values, normalisation,
// sliding windows and character sequences. Host-side only: the trainer uploads them once.
#include "elman/data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "elman/error.h"

namespace elman {

int64_t Dataset::size() const {
  const int64_t per = seq_len * (one_hot ? 1 : input_size);
  return per > 0 ? static_cast<int64_t>(inputs.size()) / per : 0;
}

void Dataset::validate(const char* call) const {
  auto fail = [&](const std::string& what) {
    throw Error(std::string(call) + ": data set " + what);
  };
  if (seq_len <= 0) fail("has seq_len " + std::to_string(seq_len) + ", expected >= 1");
  if (input_size <= 0) fail("has input_size " + std::to_string(input_size) + ", expected >= 1");
  if (target_size <= 0) fail("has target_size " + std::to_string(target_size) + ", expected >= 1");
  const int64_t per = seq_len * (one_hot ? 1 : input_size);
  if (static_cast<int64_t>(inputs.size()) % per != 0)
    fail("has " + std::to_string(inputs.size()) + " input values, not a multiple of " +
         std::to_string(per) + " per example");
  const int64_t n = size();
  if (static_cast<int64_t>(targets.size()) != n * target_size)
    fail("has " + std::to_string(targets.size()) + " target values, expected " +
         std::to_string(n * target_size) + " (" + std::to_string(n) + " examples x " +
         std::to_string(target_size) + ")");
  if (n >= (int64_t{1} << 24))
    fail("has " + std::to_string(n) + " examples; at most 2^24 are supported (indices are floats)");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float v = inputs[i];
    if (!std::isfinite(v)) fail("input value " + std::to_string(i) + " is not finite");
    if (one_hot && (v < 0 || v >= static_cast<float>(input_size) || v != std::floor(v)))
      fail("input " + std::to_string(i) + " is class " + std::to_string(v) + ", expected 0.." +
           std::to_string(input_size - 1));
  }
  for (size_t i = 0; i < targets.size(); ++i)
    if (!std::isfinite(targets[i])) fail("target value " + std::to_string(i) + " is not finite");
}

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  const int64_t n = size();
  if (begin < 0 || end < begin || end > n)
    throw Error("Dataset::slice: range [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") outside [0, " + std::to_string(n) + ")");
  Dataset d = *this;
  const int64_t per = seq_len * (one_hot ? 1 : input_size);
  d.inputs.assign(inputs.begin() + begin * per, inputs.begin() + end * per);
  d.targets.assign(targets.begin() + begin * target_size, targets.begin() + end * target_size);
  return d;
}

namespace {

// Splits one CSV line into fields, removing surrounding double quotes ("" inside is a quote).
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

CsvColumn read_csv_column(const std::string& path, const std::string& column,
                          MissingValues missing) {
  std::ifstream in(path);
  if (!in) throw Error("read_csv_column: cannot open '" + path + "'");
  std::string line;
  if (!std::getline(in, line)) throw Error("read_csv_column: '" + path + "' is empty");
  const std::vector<std::string> header = split_csv_line(line);
  int64_t col = -1;
  std::string names;
  for (size_t i = 0; i < header.size(); ++i) {
    if (trim(header[i]) == column) col = static_cast<int64_t>(i);
    names += (i ? ", " : "") + trim(header[i]);
  }
  if (col < 0)
    throw Error("read_csv_column: '" + path + "' has no column '" + column +
                "' (columns: " + names + ")");

  CsvColumn result;
  std::vector<double> raw;  // NaN marks a missing value
  int64_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;  // a blank line is not a row
    const std::vector<std::string> fields = split_csv_line(line);
    const std::string where = path + ":" + std::to_string(line_no) + ": column " +
                              std::to_string(col + 1) + " ('" + column + "')";
    if (static_cast<int64_t>(fields.size()) <= col)
      throw Error("read_csv_column: " + where + ": the row has only " +
                  std::to_string(fields.size()) + " fields");
    ++result.rows;
    const std::string field = trim(fields[static_cast<size_t>(col)]);
    if (field.empty()) {
      ++result.missing;
      raw.push_back(NAN);
      continue;
    }
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(field.c_str(), &end);
    if (end != field.c_str() + field.size() || errno == ERANGE || !std::isfinite(v))
      throw Error("read_csv_column: " + where + ": '" + field + "' is not a finite number");
    raw.push_back(v);
  }
  if (result.rows == result.missing)
    throw Error("read_csv_column: '" + path + "' has no values in column '" + column + "' (" +
                std::to_string(result.rows) + " rows, all empty)");

  if (missing == MissingValues::kSkip) {
    for (double v : raw)
      if (!std::isnan(v)) result.values.push_back(v);
    return result;
  }
  // Linear interpolation between the previous and the next present value.
  int64_t prev = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(raw.size()); ++i) {
    if (std::isnan(raw[i])) continue;
    if (prev >= 0 && i - prev > 1) {
      for (int64_t j = prev + 1; j < i; ++j) {
        const double f = static_cast<double>(j - prev) / static_cast<double>(i - prev);
        result.values.push_back(raw[prev] + f * (raw[i] - raw[prev]));
        ++result.interpolated;
      }
    }
    result.values.push_back(raw[i]);
    prev = i;
  }
  return result;
}

Normalizer Normalizer::fit(const std::vector<double>& values, int64_t begin, int64_t end) {
  if (begin < 0 || end <= begin || end > static_cast<int64_t>(values.size()))
    throw Error("Normalizer::fit: range [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") is empty or outside the " + std::to_string(values.size()) + " values");
  double sum = 0.0;
  for (int64_t i = begin; i < end; ++i) sum += values[i];
  Normalizer n;
  n.mean = sum / static_cast<double>(end - begin);
  double ss = 0.0;
  for (int64_t i = begin; i < end; ++i) ss += (values[i] - n.mean) * (values[i] - n.mean);
  const double sd = std::sqrt(ss / static_cast<double>(end - begin));
  n.scale = sd > 0.0 ? sd : 1.0;
  return n;
}

Dataset make_windows(const std::vector<double>& series, int64_t window, int64_t target_begin,
                     int64_t target_end) {
  const int64_t n = static_cast<int64_t>(series.size());
  if (window < 1) throw Error("make_windows: window must be >= 1, got " + std::to_string(window));
  if (target_begin < window || target_end > n || target_end < target_begin)
    throw Error("make_windows: target range [" + std::to_string(target_begin) + ", " +
                std::to_string(target_end) + ") must lie in [window = " + std::to_string(window) +
                ", " + std::to_string(n) + ")");
  Dataset d;
  d.seq_len = window;
  d.input_size = 1;
  d.target_size = 1;
  for (int64_t t = target_begin; t < target_end; ++t) {
    for (int64_t s = t - window; s < t; ++s) d.inputs.push_back(static_cast<float>(series[s]));
    d.targets.push_back(static_cast<float>(series[t]));
  }
  return d;
}

Vocabulary Vocabulary::from_text(const std::string& text) {
  bool seen[256] = {};
  for (unsigned char c : text) seen[c] = true;
  std::string chars;
  for (int c = 0; c < 256; ++c)
    if (seen[c]) chars += static_cast<char>(c);
  return from_chars(chars);
}

Vocabulary Vocabulary::from_chars(const std::string& chars) {
  Vocabulary v;
  std::fill(std::begin(v.index_), std::end(v.index_), -1);
  for (size_t i = 0; i < chars.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(chars[i]);
    if (v.index_[c] >= 0)
      throw Error("Vocabulary::from_chars: character " + std::to_string(c) + " appears twice");
    v.index_[c] = static_cast<int>(i);
  }
  v.chars_ = chars;
  return v;
}

int Vocabulary::id(char c) const {
  const int i = index_[static_cast<unsigned char>(c)];
  if (i < 0 || chars_.empty())
    throw Error("Vocabulary::id: character " + std::to_string(static_cast<unsigned char>(c)) +
                " is not in the vocabulary");
  return i;
}

char Vocabulary::at(int64_t id) const {
  if (id < 0 || id >= size())
    throw Error("Vocabulary::at: id " + std::to_string(id) + " outside 0.." +
                std::to_string(size() - 1));
  return chars_[static_cast<size_t>(id)];
}

std::vector<int> Vocabulary::encode(const std::string& text) const {
  std::vector<int> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(id(c));
  return ids;
}

Dataset make_char_sequences(const std::vector<int>& ids, int64_t classes, int64_t seq_len,
                            int64_t begin, int64_t end) {
  if (seq_len < 1)
    throw Error("make_char_sequences: seq_len must be >= 1, got " + std::to_string(seq_len));
  if (begin < 0 || end < begin || end > static_cast<int64_t>(ids.size()))
    throw Error("make_char_sequences: range [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") outside the " + std::to_string(ids.size()) + " ids");
  if (end - begin < seq_len + 1)
    throw Error(
        "make_char_sequences: range [" + std::to_string(begin) + ", " + std::to_string(end) +
        ") holds " + std::to_string(end - begin) +
        " characters, too few for one sequence of seq_len + 1 = " + std::to_string(seq_len + 1));
  Dataset d;
  d.seq_len = seq_len;
  d.input_size = classes;
  d.one_hot = true;
  d.target_size = seq_len;
  for (int64_t p = begin; p + seq_len + 1 <= end; p += seq_len) {
    for (int64_t t = 0; t < seq_len; ++t) d.inputs.push_back(static_cast<float>(ids[p + t]));
    for (int64_t t = 0; t < seq_len; ++t) d.targets.push_back(static_cast<float>(ids[p + t + 1]));
  }
  return d;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("read_text_file: cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("read_text_file: error while reading '" + path + "'");
  return ss.str();
}

}  // namespace elman
