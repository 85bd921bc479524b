// Scenario `chars`: a character-level language model (char-rnn) over a text file. One-hot
// characters in, a Linear head on every step, softmax cross-entropy; reports bits per character
// and samples text with a temperature.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>

#include "chars_data.h"
#include "scenario_common.h"
#include "scenarios.h"

namespace demo {
namespace {

struct CharsOptions : CharsSettings {
  std::string text, prime = "ROMEO:";
  int64_t sample = 400;
  float temperature = 0.8f;
};

// Reads `prime` (ids), then samples `count` characters from softmax(logits / temperature).
std::string sample_text(elman::RNN& rnn, elman::Linear& fc, const elman::Vocabulary& vocab,
                        const std::vector<int>& prime, int64_t count, float temperature,
                        uint64_t seed) {
  const int64_t V = vocab.size(), H = rnn.options().hidden_size;
  const elman::Device dev = rnn.context().device();
  std::mt19937_64 gen(seed);
  elman::Tensor h = elman::Tensor::zeros({rnn.options().num_layers, 1, H}, dev);
  std::vector<float> onehot(static_cast<size_t>(V));
  std::vector<float> logits;
  auto feed = [&](int id) {  // one step: x = one-hot(id), carrying h
    std::fill(onehot.begin(), onehot.end(), 0.0f);
    onehot[static_cast<size_t>(id)] = 1.0f;
    const elman::RNNOutput out = rnn.forward(elman::Tensor::from_vector({1, 1, V}, onehot, dev), h);
    h = out.h_n;
    logits = fc.forward(out.output.view({1, H})).to_vector();
  };
  for (int id : prime) feed(id);
  std::string result = vocab.decode(prime);
  std::vector<double> p(static_cast<size_t>(V));
  for (int64_t i = 0; i < count; ++i) {
    double m = logits[0], sum = 0;
    for (float z : logits) m = std::max(m, static_cast<double>(z));
    for (int64_t c = 0; c < V; ++c) sum += p[c] = std::exp((logits[c] - m) / temperature);
    double u = static_cast<double>(gen() >> 11) * 0x1.0p-53 * sum;
    int id = static_cast<int>(V - 1);
    for (int64_t c = 0; c < V; ++c) {
      u -= p[c];
      if (u < 0) {
        id = static_cast<int>(c);
        break;
      }
    }
    result += vocab.symbol(id);
    feed(id);
  }
  return result;
}

// How a character reads in hidden_states.csv's input column.
std::string label_of(const std::string& symbol) {
  return symbol == "\n" ? "\\n" : symbol == " " ? "' '" : symbol;
}

int run_chars(const CommonOptions& common, const CharsOptions& o) {
  const CharsData data = load_chars_data(o.text, o);
  const elman::Vocabulary& vocab = data.vocab;
  const std::vector<int>& ids = data.ids;
  const elman::Dataset &train = data.train, &val = data.val;
  const int64_t n = static_cast<int64_t>(ids.size()), split = data.split;
  // Everything the run needs after training is checked before it.
  if (o.prime.empty())
    throw elman::Error(
        "chars: --prime must hold at least one character (the sample starts "
        "from it)");
  std::vector<int> prime;
  try {
    prime = vocab.encode(o.prime);
  } catch (const elman::Error& e) {
    throw elman::Error("chars: --prime '" + o.prime + "' cannot start a sample of this text: " +
                       e.what() + " (pick a --prime made of the text's characters)");
  }
  std::printf(
      "chars: %s, %lld of %zu characters used (--max-chars), vocabulary of %lld; "
      "%lld training and %lld validation sequences of %lld characters\n",
      o.text.c_str(), static_cast<long long>(n), data.file_chars,
      static_cast<long long>(vocab.size()), static_cast<long long>(train.size()),
      static_cast<long long>(val.size()), static_cast<long long>(o.seq_len));

  const elman::Device device = pick_device(common.device);
  elman::Context ctx(device);
  char fraction[32];
  std::snprintf(fraction, sizeof fraction, "%.9g", static_cast<double>(o.val_fraction));
  const ModelShape shape = chars_model(o, vocab.size());
  const RunIdentity identity = run_identity("chars", shape,
                                            {{"text_content", data.fingerprint},
                                             {"max_chars", std::to_string(o.max_chars)},
                                             {"seq_len", std::to_string(o.seq_len)},
                                             {"val_fraction", fraction},
                                             {"vocabulary", vocab.chars()}});
  const elman::TrainerOptions to = chars_trainer_options(o);
  const auto dir = make_run_folder(common, "chars", identity, training_choices(common, shape, to));
  TrainingRun run(ctx, shape, common, dir, o.epochs, identity, to);
  const double bits = 1.0 / std::log(2.0);
  std::printf(
      "RNN(%lld, %lld, layers %lld, dropout %g) + Linear(%lld, %lld) on every step, Adam lr %g, "
      "batch %lld, clip %g, %s, on %s; losses in bits per character (uniform guessing: %.2f)\n",
      static_cast<long long>(vocab.size()), static_cast<long long>(o.hidden),
      static_cast<long long>(o.layers), static_cast<double>(o.dropout),
      static_cast<long long>(o.hidden), static_cast<long long>(vocab.size()),
      static_cast<double>(o.lr), static_cast<long long>(o.batch), static_cast<double>(o.clip),
      bptt_str(o.bptt, o.seq_len).c_str(), device.str().c_str(),
      std::log2(static_cast<double>(vocab.size())));
  const elman::FitResult fit = run.fit(
      train, val, [&](const elman::EpochResult& r) { print_epoch(r, o.epochs, bits); }, bits);
  std::printf("trained %zu epochs in %.1f s\n", fit.epochs.size(), total_seconds(fit.epochs));
  if (stopped_early(fit)) return 1;

  // The model first: nothing after training may lose it.
  RunIdentity metadata = identity;
  metadata["head"] = "every_step";
  metadata["text"] = o.text;
  save_model(dir, run.rnn, run.fc, metadata,
             "metrics.csv in bits per character, hidden_states.csv, model.safetensors, "
             "training.safetensors");

  // Hidden states over the first 40 characters of the validation text.
  const int64_t steps = std::min<int64_t>(40, n - split);
  std::vector<float> x(static_cast<size_t>(steps * vocab.size()), 0.0f);
  std::vector<std::string> labels;
  for (int64_t t = 0; t < steps; ++t) {
    const int id = ids[static_cast<size_t>(split + t)];
    x[static_cast<size_t>(t * vocab.size() + id)] = 1.0f;
    labels.push_back(label_of(vocab.symbol(id)));
  }
  write_hidden_states(dir, labels, hidden_states_of(run.rnn, x, steps));

  const std::string s =
      sample_text(run.rnn, run.fc, vocab, prime, o.sample, o.temperature, common.seed + 2);
  std::printf("\nsample (temperature %g):\n%s\n", static_cast<double>(o.temperature), s.c_str());
  return 0;
}

}  // namespace

void add_chars(CLI::App& app, CommonOptions& common, int& status) {
  static CharsOptions o;
  CLI::App* sub = app.add_subcommand("chars", "a character-level language model over a text");
  add_common_options(*sub, common);
  add_training_options(*sub, common);
  sub->add_option("--text", o.text, "the text file")->required();
  sub->add_option("--max-chars", o.max_chars, "use the first N characters (0: all)")
      ->capture_default_str()
      ->check(integer_range(0, 1000000000000));
  add_positive_option(*sub, "--seq-len", o.seq_len,
                      "characters per training sequence (the state starts from zero in each)");
  add_positive_option(*sub, "--hidden", o.hidden, "hidden units");
  add_positive_option(*sub, "--layers", o.layers, "stacked RNN layers");
  sub->add_option(
         "--dropout", o.dropout,
         "dropout between layers in training (PyTorch's nn.RNN dropout; needs --layers >= 2)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.95));
  add_positive_option(*sub, "--batch", o.batch, "batch size");
  add_positive_option(*sub, "--epochs", o.epochs, "epochs");
  sub->add_option("--lr", o.lr, "Adam's learning rate")
      ->capture_default_str()
      ->check(number_range(0.0, 1e6));
  add_clip_and_bptt_options(*sub, o.clip, o.bptt);
  sub->add_option("--val-fraction", o.val_fraction, "fraction of the text held out at its end")
      ->capture_default_str()
      ->check(number_range(0.01, 0.9));
  sub->add_option("--sample", o.sample, "characters to sample after training")
      ->capture_default_str()
      ->check(integer_range(0, 10000000));
  add_positive_option(*sub, "--temperature", o.temperature, "sampling temperature (lower: safer)",
                      1000000);
  sub->add_option("--prime", o.prime,
                  "text the sample starts from (characters of the text; checked before "
                  "training)")
      ->capture_default_str();
  sub->callback([&common, &status] { status = run_chars(common, o); });
}

}  // namespace demo
