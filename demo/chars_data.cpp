// The char-LM's data, model and trainer options (documented in chars_data.h).
#include "chars_data.h"

#include <cmath>

namespace demo {

namespace {

// The byte length of the first `max_chars` characters of a UTF-8 text (all of it when it has
// fewer): a cut never falls inside a character.
size_t utf8_prefix_bytes(const std::string& text, int64_t max_chars) {
  int64_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && chars++ == max_chars) return i;
  return text.size();
}

}  // namespace

CharsData load_chars_data(const std::string& path, const CharsSettings& s) {
  CharsData d;
  std::string text = elman::read_text_file(path);
  d.fingerprint = content_fingerprint(text);
  d.file_chars = elman::Vocabulary::from_text(text).encode(text).size();  // checks the UTF-8
  if (s.max_chars > 0) text.resize(utf8_prefix_bytes(text, s.max_chars));
  d.vocab = elman::Vocabulary::from_text(text);
  d.ids = d.vocab.encode(text);
  const int64_t n = static_cast<int64_t>(d.ids.size());
  d.split = n - static_cast<int64_t>(std::llround(s.val_fraction * n));
  if (d.split < s.seq_len + 1 || n - d.split < s.seq_len + 1)
    throw elman::Error("chars: the text (" + std::to_string(n) + " characters used) is too " +
                       "short for training and validation sequences of " +
                       std::to_string(s.seq_len) + " characters (--seq-len, --val-fraction)");
  d.train = elman::make_char_sequences(d.ids, d.vocab.size(), s.seq_len, 0, d.split);
  d.val = elman::make_char_sequences(d.ids, d.vocab.size(), s.seq_len, d.split, n);
  return d;
}

ModelShape chars_model(const CharsSettings& s, int64_t vocabulary) {
  return {vocabulary, s.hidden, vocabulary, s.lr, s.layers, s.dropout, s.embedding_dim};
}

elman::TrainerOptions chars_trainer_options(const CharsSettings& s) {
  elman::TrainerOptions to;
  to.batch_size = s.batch;
  to.clip_norm = s.clip;
  to.bptt = s.bptt;
  to.head = elman::HeadMode::kEveryStep;
  to.loss = elman::LossType::kCrossEntropy;
  return to;
}

}  // namespace demo
