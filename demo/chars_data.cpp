// The char-LM's data, model and trainer options (documented in chars_data.h).
#include "chars_data.h"

#include <cmath>

namespace demo {

CharsData load_chars_data(const std::string& path, const CharsSettings& s) {
  CharsData d;
  std::string text = elman::read_text_file(path);
  d.file_chars = text.size();
  if (s.max_chars > 0 && text.size() > static_cast<size_t>(s.max_chars))
    text.resize(static_cast<size_t>(s.max_chars));
  d.vocab = elman::Vocabulary::from_text(text);
  d.ids = d.vocab.encode(text);
  const int64_t n = static_cast<int64_t>(d.ids.size());
  d.split = n - static_cast<int64_t>(std::llround(s.val_fraction * n));
  d.train = elman::make_char_sequences(d.ids, d.vocab.size(), s.seq_len, 0, d.split);
  d.val = elman::make_char_sequences(d.ids, d.vocab.size(), s.seq_len, d.split, n);
  if (d.train.size() == 0 || d.val.size() == 0)
    throw elman::Error("chars: the text is too short for sequences of " +
                       std::to_string(s.seq_len) + " characters");
  return d;
}

ModelShape chars_model(const CharsSettings& s, int64_t vocabulary) {
  return {vocabulary, s.hidden, vocabulary, s.lr};
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
