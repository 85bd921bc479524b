// Data sets: validation, slicing, CSV column reading with missing values, normalisation,
// sliding windows and character sequences. Host-side only: the trainer uploads them once.
#include "elman/data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "elman/error.h"
#include "host/train/utf8.h"

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

// A field as it may appear in a message: at most 80 characters of it.
std::string quote_field(const std::string& field) {
  constexpr size_t kMax = 80;
  if (field.size() <= kMax) return "'" + field + "'";
  return "'" + field.substr(0, kMax) + "...' (" + std::to_string(field.size()) + " characters)";
}

// Reads one CSV record: fields separated by commas, double quotes around a field allowed ("" is
// a quote inside), a quoted field may span lines. `line_no` counts the physical lines read.
// Returns false at the end of the input; throws on a quote left open at the end.
bool read_csv_record(std::istream& in, const std::string& path, int64_t& line_no,
                     std::vector<std::string>& fields) {
  std::string line;
  if (!std::getline(in, line)) return false;
  ++line_no;
  const int64_t first_line = line_no;
  fields.assign(1, std::string());
  bool quoted = false;
  for (;;) {
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
    if (!quoted) return true;
    if (!std::getline(in, line))
      throw Error("read_csv_column: " + path + ":" + std::to_string(first_line) +
                  ": a quoted field is not closed before the end of the file");
    ++line_no;
    fields.back() += '\n';  // the newline inside the quoted field
  }
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Whether `s` is a plain decimal number: [+-] digits [. digits] [e|E [+-] digits], with at
// least one digit before the exponent. Hexadecimal ("0x1A"), "inf" and "nan", which strtod
// would accept, are not data.
bool is_decimal_number(const std::string& s) {
  size_t i = 0, digits = 0;
  auto is_digit = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  while (is_digit(i)) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (is_digit(i)) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!is_digit(i)) return false;
    while (is_digit(i)) ++i;
  }
  return i == s.size();
}

// The index of `column` in the header, after checking that no name appears twice.
int64_t find_column(const std::vector<std::string>& header, const std::string& path,
                    const std::string& column) {
  int64_t col = -1;
  std::string names;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string name = trim(header[i]);
    for (size_t j = 0; j < i; ++j)
      if (trim(header[j]) == name)
        throw Error("read_csv_column: '" + path + "' has two columns named " + quote_field(name) +
                    " (columns " + std::to_string(j + 1) + " and " + std::to_string(i + 1) +
                    "): rename one");
    if (name == column) col = static_cast<int64_t>(i);
    names += (i ? ", " : "") + name;
  }
  if (col < 0)
    throw Error("read_csv_column: '" + path + "' has no column " + quote_field(column) +
                " (columns: " + (names.size() > 200 ? names.substr(0, 200) + "..." : names) + ")");
  return col;
}

}  // namespace

CsvColumn read_csv_column(const std::string& path, const std::string& column,
                          MissingValues missing) {
  std::ifstream in(path);
  if (!in) throw Error("read_csv_column: cannot open '" + path + "'");
  int64_t line_no = 0;
  std::vector<std::string> fields;
  if (!read_csv_record(in, path, line_no, fields))
    throw Error("read_csv_column: '" + path + "' is empty");
  if (fields[0].compare(0, 3, "\xEF\xBB\xBF") == 0) fields[0].erase(0, 3);  // a UTF-8 BOM
  const int64_t col = find_column(fields, path, column);

  CsvColumn result;
  std::vector<double> raw;  // NaN marks a missing value
  for (;;) {
    const int64_t record_line = line_no + 1;
    if (!read_csv_record(in, path, line_no, fields)) break;
    if (fields.size() == 1 && trim(fields[0]).empty()) continue;  // a blank line is not a row
    const std::string where = path + ":" + std::to_string(record_line) + ": column " +
                              std::to_string(col + 1) + " (" + quote_field(column) + ")";
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
    const double v = is_decimal_number(field) ? std::strtod(field.c_str(), &end) : NAN;
    if (!is_decimal_number(field) || end != field.c_str() + field.size() || errno == ERANGE ||
        !std::isfinite(v))
      throw Error("read_csv_column: " + where + ": " + quote_field(field) +
                  " is not a finite decimal number");
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
  if (!std::isfinite(n.mean) || !std::isfinite(sd))
    throw Error(
        "Normalizer::fit: the values are too large to standardise (their mean or "
        "standard deviation overflows a double); rescale the data");
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

Vocabulary Vocabulary::from_text(const std::string& utf8_text) {
  std::u32string points = detail::utf8_decode(utf8_text, "Vocabulary::from_text");
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  Vocabulary v;
  v.points_ = std::move(points);
  for (char32_t c : v.points_) detail::utf8_append(c, v.chars_);
  return v;
}

Vocabulary Vocabulary::from_chars(const std::string& utf8_chars) {
  std::u32string points = detail::utf8_decode(utf8_chars, "Vocabulary::from_chars");
  std::u32string sorted = points;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i] == sorted[i - 1])
      throw Error("Vocabulary::from_chars: character " + detail::describe_code_point(sorted[i]) +
                  " appears twice");
  if (points != sorted)
    throw Error(
        "Vocabulary::from_chars: the characters are not in code-point order (a "
        "vocabulary's chars() are)");
  Vocabulary v;
  v.points_ = std::move(points);
  v.chars_ = utf8_chars;
  return v;
}

bool Vocabulary::contains(char32_t c) const {
  return std::binary_search(points_.begin(), points_.end(), c);
}

int Vocabulary::id(char32_t c) const {
  const auto it = std::lower_bound(points_.begin(), points_.end(), c);
  if (it == points_.end() || *it != c)
    throw Error("Vocabulary::id: character " + detail::describe_code_point(c) +
                " is not in the vocabulary");
  return static_cast<int>(it - points_.begin());
}

char32_t Vocabulary::at(int64_t id) const {
  if (id < 0 || id >= size())
    throw Error("Vocabulary::at: id " + std::to_string(id) + " outside 0.." +
                std::to_string(size() - 1));
  return points_[static_cast<size_t>(id)];
}

std::string Vocabulary::symbol(int64_t id) const {
  std::string s;
  detail::utf8_append(at(id), s);
  return s;
}

std::vector<int> Vocabulary::encode(const std::string& utf8_text) const {
  const std::u32string points = detail::utf8_decode(utf8_text, "Vocabulary::encode");
  std::vector<int> ids;
  ids.reserve(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    if (!contains(points[i]))
      throw Error("Vocabulary::encode: character " + std::to_string(i + 1) + " of the text, " +
                  detail::describe_code_point(points[i]) + ", is not in the vocabulary");
    ids.push_back(id(points[i]));
  }
  return ids;
}

std::string Vocabulary::decode(const std::vector<int>& ids) const {
  std::string s;
  for (int i : ids) detail::utf8_append(at(i), s);
  return s;
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
  // A directory or a FIFO would be "read" forever or as nothing: only regular files are text.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(status))
    throw Error("read_text_file: '" + path + "' is a directory, not a text file");
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw Error("read_text_file: '" + path + "' is not a regular file (a FIFO or a device?)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("read_text_file: cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("read_text_file: error while reading '" + path + "'");
  return ss.str();
}

}  // namespace elman
