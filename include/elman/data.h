// Data sets for training: sequences with targets held on the host until the trainer uploads
// them once; sliding windows over a CSV column; character sequences over a text with a vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elman {

// N examples of T steps. Inputs are features [N, T, I] (`inputs`), or, with `tokens`, token
// ids [N, T] (`input_ids`, each in 0..input_size-1) that the trainer looks up in an Embedding,
// or expands to one-hot [N, T, I] rows on the device when the model has none (so a text costs
// one id per character either way). Targets are target_size per example: values (`targets`,
// for MSE) [N, K] for a last-step head or [N, T * K] for an every-step head, or class ids
// (`target_ids`, for cross-entropy) [N, 1] or [N, T]. Ids are integers, exact at any size.
struct Dataset {
  int64_t seq_len = 0;
  int64_t input_size = 0;  // features per step; with tokens, the vocabulary size
  bool tokens = false;
  int64_t target_size = 0;
  std::vector<float> inputs;        // features [N, T, I]; empty with tokens
  std::vector<int64_t> input_ids;   // tokens [N, T]; empty without
  std::vector<float> targets;       // values [N, target_size]; empty with target_ids
  std::vector<int64_t> target_ids;  // class ids [N, target_size]; empty with targets

  int64_t size() const;  // N
  // Throws elman::Error naming the first inconsistency (sizes, both or neither kind of target,
  // a token id outside 0..input_size-1, a negative class id, a non-finite value).
  void validate(const char* call) const;
  // The examples [begin, end) as a new data set.
  Dataset slice(int64_t begin, int64_t end) const;
};

// How read_csv_column treats empty fields (missing values).
enum class MissingValues {
  kSkip,         // drop the rows: the series gets shorter (time steps are no longer uniform)
  kInterpolate,  // linear interpolation between the neighbouring present values; missing values
                 // before the first or after the last present value are dropped
};

struct CsvColumn {
  std::vector<double> values;
  int64_t rows = 0;          // data rows read (header excluded)
  int64_t missing = 0;       // empty fields found
  int64_t interpolated = 0;  // of which filled by interpolation
};

// Reads one numeric column, named by its header, of a comma-separated file (double quotes
// around fields allowed). Throws elman::Error naming the file, the line and the column of the
// first bad value ("data/x.csv:12: column 2 ('co2'): 'abc' is not a number"), a missing column,
// a short row, or an unreadable file. An empty field is missing, never zero.
CsvColumn read_csv_column(const std::string& path, const std::string& column,
                          MissingValues missing = MissingValues::kInterpolate);

// Affine normalisation z = (x - mean) / scale, fitted on a training part only.
struct Normalizer {
  double mean = 0.0, scale = 1.0;
  // mean and standard deviation of values[begin, end); scale 1 when the deviation is 0.
  static Normalizer fit(const std::vector<double>& values, int64_t begin, int64_t end);
  double normalize(double x) const { return (x - mean) / scale; }
  double denormalize(double z) const { return z * scale + mean; }
};

// Sliding windows over a (normalised) series: example j has inputs series[s, s + window) as
// [window, 1] and target series[s + window] as [1], for every s with s + window in
// [target_begin, target_end). So a chronological split is two calls with adjacent ranges.
Dataset make_windows(const std::vector<double>& series, int64_t window, int64_t target_begin,
                     int64_t target_end);

// The characters of a text: its Unicode code points (the text is read as strict UTF-8), sorted
// by code point; ids 0..size()-1. So an accented letter or a CJK character is one character,
// and chars() (UTF-8) can be stored anywhere a string can, a checkpoint's metadata included.
class Vocabulary {
 public:
  Vocabulary() = default;
  // Throws elman::Error naming the byte offset and line of the first invalid UTF-8 byte.
  static Vocabulary from_text(const std::string& utf8_text);
  // The inverse of chars(): each character once (elman::Error on a repeat or invalid UTF-8).
  static Vocabulary from_chars(const std::string& utf8_chars);
  int64_t size() const { return static_cast<int64_t>(points_.size()); }
  const std::string& chars() const { return chars_; }  // UTF-8, in id order
  bool contains(char32_t c) const;
  int id(char32_t c) const;  // throws, naming the character, on one outside the vocabulary
  char32_t at(int64_t id) const;
  std::string symbol(int64_t id) const;  // at(id) as UTF-8
  // The ids of a UTF-8 text; elman::Error names the first character outside the vocabulary and
  // its position (counted in characters).
  std::vector<int> encode(const std::string& utf8_text) const;
  std::string decode(const std::vector<int>& ids) const;  // UTF-8

 private:
  std::string chars_;
  std::u32string points_;  // sorted: id = position
};

// Character sequences for next-character prediction: example j covers ids[p, p + seq_len + 1)
// with p = begin + j * seq_len; inputs are the tokens ids[p .. p + seq_len) of a vocabulary of
// `classes`, target_ids ids[p + 1 .. p + seq_len] (one class per step). Consecutive examples do not
// overlap.
Dataset make_char_sequences(const std::vector<int>& ids, int64_t classes, int64_t seq_len,
                            int64_t begin, int64_t end);

// Reads a whole file (throws elman::Error naming it when it cannot).
std::string read_text_file(const std::string& path);

}  // namespace elman
