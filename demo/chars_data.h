// The char-LM of `elman-train chars`: its settings (the defaults of its options), its data and its
// model and trainer options, shared with `elman-bench --train`, which times the same training.
#pragma once

#include <elman/elman.h>

#include <cstdint>
#include <string>
#include <vector>

#include "scenario_common.h"

namespace demo {

struct CharsSettings {
  int64_t max_chars = 0, seq_len = 50, hidden = 128, batch = 32, epochs = 3;
  int64_t bptt = 50;
  float lr = 0.01f, clip = 5.0f, val_fraction = 0.1f;
  int64_t layers = 1;
  float dropout = 0.0f;
  int64_t embedding_dim = 32;  // 0: one-hot characters straight into the RNN
};

struct CharsData {
  std::string fingerprint;  // the file's content_fingerprint (what a resume compares)
  size_t file_chars = 0;    // characters in the file
  elman::Vocabulary vocab;  // the characters of the text used
  std::vector<int> ids;     // the text used (the first max_chars characters), encoded
  int64_t split = 0;        // ids[split, end) are held out for validation
  elman::Dataset train, val;
};

// Reads the text file as UTF-8 (a character is a code point), keeps its first s.max_chars
// characters (0: all), and cuts it into non-overlapping sequences of s.seq_len: the first
// 1 - s.val_fraction of it for training, the rest for validation. Throws elman::Error when the
// file cannot be read, is not UTF-8, or is too short for a sequence in each part.
CharsData load_chars_data(const std::string& path, const CharsSettings& s);

// Embedding(vocabulary, s.embedding_dim) (none when 0: one-hot input) + RNN(..., hidden, s.layers,
// dropout=s.dropout) + Linear(hidden, vocabulary), Adam at s.lr.
ModelShape chars_model(const CharsSettings& s, int64_t vocabulary);

// Batch, gradient clipping, BPTT, a Linear head on every step, cross-entropy.
elman::TrainerOptions chars_trainer_options(const CharsSettings& s);

}  // namespace demo
