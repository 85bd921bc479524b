// elman-bench --train (documented in train_bench.h): elman's side through the demo's own
// chars code (data, model, Trainer options, TrainingRun), PyTorch's through pytorch_train.py.
#include "bench/train_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>

#include "bench/python_exchange.h"
#include "chars_data.h"
#include "elman/elman.h"
#include "run_folder.h"
#include "scenario_common.h"

extern "C" int openblas_get_num_threads(void);

namespace elman::bench {

namespace fs = std::filesystem;

const TrainSide* TrainResult::best_pytorch() const {
  const TrainSide* best = nullptr;
  for (const TrainSide& p : pytorch)
    if (p.status == "ok" && (!best || p.seq_per_s > best->seq_per_s)) best = &p;
  return best;
}

namespace {

// The names and shapes of a model's parameters, in its flat buffer's order (for the script).
template <typename Model>
nlohmann::json names_and_shapes(Model& m) {
  nlohmann::json names = nlohmann::json::array(), shapes = nlohmann::json::array();
  for (const std::string& name : m.parameter_names()) {
    names.push_back(name);
    shapes.push_back(m.parameter(name).shape());
  }
  return {{"names", names}, {"shapes", shapes}};
}

// The training set's order in the epoch: the Trainer's first shuffle, drawn the way it draws it
// (a std::mt19937_64 seeded with TrainerOptions::seed, nothing drawn before the first epoch).
std::vector<float> first_epoch_order(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const std::vector<int64_t> perm = seeded_permutation(n, gen);
  return std::vector<float>(perm.begin(), perm.end());
}

}  // namespace

TrainResult run_train_bench(const TrainBenchConfig& config) {
  demo::CharsSettings settings;  // elman-train chars' defaults,
  settings.max_chars = config.max_chars;
  settings.epochs = 1;  // but one epoch
  // and one-hot characters: the model pytorch_train.py builds (nn.RNN on F.one_hot).
  settings.embedding_dim = 0;
  const demo::CharsData data = demo::load_chars_data(config.text, settings);
  const demo::CommonOptions common;  // --seed and the rest at their defaults
  const demo::ModelShape shape = demo::chars_model(settings, data.vocab.size());
  const TrainerOptions to = demo::chars_trainer_options(settings);

  TrainResult r;
  r.text = config.text;
  r.chars = int64_t(data.ids.size());
  r.vocabulary = data.vocab.size();
  r.hidden = settings.hidden;
  r.batch = settings.batch;
  r.seq_len = settings.seq_len;
  r.bptt = settings.bptt;
  r.sequences = data.train.size();
  r.lr = settings.lr;
  r.clip = settings.clip;
  r.seed = common.seed;
  r.elman_blas_threads = openblas_get_num_threads();

  TempDir tmp;
  fs::create_directories(tmp.path() / "warm-up");  // the run folders (checkpoints go there)
  fs::create_directories(tmp.path() / "elman");
  Context ctx(Device::cpu());
  r.elman_threads = ctx.num_threads();
  {  // Warm-up, untimed: two steps of a throwaway copy (the peer's script does the same).
    demo::TrainingRun warm(ctx, shape, common, tmp.path() / "warm-up", 1, {}, to);
    warm.trainer().fit(data.train.slice(0, std::min<int64_t>(2 * to.batch_size, r.sequences)),
                       nullptr);
  }
  std::cerr << "elman: one epoch of " << r.sequences << " sequences\n";
  demo::TrainingRun run(ctx, shape, common, tmp.path() / "elman", 1, {}, to);
  // The initial weights, for PyTorch to start from.
  write_floats(tmp.path() / "rnn.bin", run.rnn.flat_parameters().to_vector());
  write_floats(tmp.path() / "fc.bin", run.fc.flat_parameters().to_vector());
  const FitResult fit = run.trainer().fit(data.train, nullptr);  // training only: no validation
  if (fit.stopped || fit.epochs.size() != 1) {
    r.elman.status = "error";
    r.elman.reason = fit.stopped ? fit.message : "the trainer ran no epoch";
  } else {
    r.elman.status = "ok";
    r.elman.threads = r.elman_threads;
    r.elman.seconds = fit.epochs[0].seconds;
    r.elman.seq_per_s = fit.epochs[0].sequences_per_second;
    r.elman.loss = fit.epochs[0].train_loss;
  }

  // The peer reads ids as floats (exact: a bench vocabulary is far below 2^24).
  write_floats(tmp.path() / "inputs.bin",
               std::vector<float>(data.train.input_ids.begin(), data.train.input_ids.end()));
  write_floats(tmp.path() / "targets.bin",
               std::vector<float>(data.train.target_ids.begin(), data.train.target_ids.end()));
  write_floats(tmp.path() / "order.bin", first_epoch_order(r.sequences, to.seed));
  const nlohmann::json request = {{"dir", tmp.path().string()},
                                  {"vocabulary", r.vocabulary},
                                  {"hidden", r.hidden},
                                  {"seq_len", r.seq_len},
                                  {"batch", r.batch},
                                  {"sequences", r.sequences},
                                  {"lr", r.lr},
                                  {"clip", r.clip},
                                  {"threads", config.pytorch_threads},
                                  {"warmup_steps", 2},
                                  {"rnn", names_and_shapes(run.rnn)},
                                  {"fc", names_and_shapes(run.fc)}};
  std::ofstream(tmp.path() / "request.json") << request.dump(1);
  std::cerr << "PyTorch: the same epoch at " << config.pytorch_threads.size()
            << " thread count(s): " << config.python << " " << config.script << "\n";
  std::string why;
  const nlohmann::json reply =
      ask_python(config.python, config.script, tmp.path() / "request.json", &why);
  if (reply.is_null()) {
    TrainSide p;
    p.status = "not available";
    p.reason = why;
    r.pytorch.push_back(p);
    return r;
  }
  r.pytorch_version = reply.value("torch_version", "?");
  for (const nlohmann::json& run_json : reply["runs"]) {
    TrainSide p;
    p.status = "ok";
    p.threads = run_json["threads"].get<int>();
    p.seconds = run_json["seconds"].get<double>();
    p.seq_per_s = double(r.sequences) / p.seconds;
    p.loss = run_json["loss"].get<double>();
    r.pytorch.push_back(p);
  }
  return r;
}

double train_loss_difference(const TrainResult& r) {
  const TrainSide* p = r.best_pytorch();
  if (!p || r.elman.status != "ok") return std::numeric_limits<double>::quiet_NaN();
  return std::abs(r.elman.loss - p->loss) / std::abs(p->loss);
}

bool train_losses_agree(const TrainResult& r) {
  return train_loss_difference(r) <= kTrainLossTolerance;  // NaN (no comparison): false
}

void print_train(std::ostream& os, const TrainResult& r) {
  char line[256];
  std::snprintf(line, sizeof line,
                "char-LM training, one epoch: %s, first %lld characters, vocabulary %lld; "
                "RNN(%lld, %lld) tanh + Linear on every step, cross-entropy, batch %lld, "
                "%lld steps, Adam lr %g, clip %g, %lld sequences\n",
                r.text.c_str(), (long long)r.chars, (long long)r.vocabulary,
                (long long)r.vocabulary, (long long)r.hidden, (long long)r.batch,
                (long long)r.seq_len, double(r.lr), double(r.clip), (long long)r.sequences);
  os << line;
  os << "timed: one epoch's batches (gather, one-hot, forward, loss, backward, clip, Adam); not "
        "timed: loading, a 2-step warm-up of a throwaway model, validation (none)\n";
  auto side = [&](const char* name, const TrainSide& s, const std::string& threads) {
    if (s.status != "ok") {
      std::snprintf(line, sizeof line, "%-8s %-24s %s: %s\n", name, threads.c_str(),
                    s.status.c_str(), s.reason.c_str());
    } else {
      std::snprintf(line, sizeof line, "%-8s %-24s %10.1f seq/s  %8.3f s  loss %.4f nats/char\n",
                    name, threads.c_str(), s.seq_per_s, s.seconds, s.loss);
    }
    os << line;
  };
  side("elman", r.elman,
       "threads: " + std::to_string(r.elman_threads) +
           ", OpenBLAS: " + std::to_string(r.elman_blas_threads));
  const TrainSide* best = r.best_pytorch();
  for (const TrainSide& p : r.pytorch)
    side("pytorch", p,
         p.status == "ok" ? "threads: " + std::to_string(p.threads) + (&p == best ? " (best)" : "")
                          : std::string("-"));
  if (best && r.elman.status == "ok") {
    std::snprintf(line, sizeof line,
                  "ratio elman / PyTorch (best, threads: %d): %.2f (> 1: elman is faster); "
                  "final losses %.2g apart (relative; %s %g)\n",
                  best->threads, r.elman.seq_per_s / best->seq_per_s, train_loss_difference(r),
                  train_losses_agree(r) ? "similar, within" : "NOT THE SAME TRAINING: over",
                  kTrainLossTolerance);
    os << line;
  }
}

nlohmann::json train_to_json(const TrainResult& r) {
  nlohmann::json t;
  t["config"] = {{"text", r.text},
                 {"chars", r.chars},
                 {"vocabulary", r.vocabulary},
                 {"hidden", r.hidden},
                 {"layers", 1},
                 {"nonlinearity", "tanh"},
                 {"batch", r.batch},
                 {"seq_len", r.seq_len},
                 {"bptt", r.bptt},
                 {"sequences", r.sequences},
                 {"epochs", 1},
                 {"optimizer", "Adam"},
                 {"lr", r.lr},
                 {"clip_norm", r.clip},
                 {"seed", r.seed},
                 {"loss", "cross-entropy, mean over every step"}};
  t["elman_status"] = r.elman.status;
  t["elman_reason"] = r.elman.reason;
  t["elman_seq_per_s"] = r.elman.status == "ok" ? nlohmann::json(r.elman.seq_per_s) : nullptr;
  t["elman_seconds"] = r.elman.status == "ok" ? nlohmann::json(r.elman.seconds) : nullptr;
  t["elman_loss"] = r.elman.status == "ok" ? nlohmann::json(r.elman.loss) : nullptr;
  t["elman_threads"] = r.elman_threads;
  t["elman_blas_threads"] = r.elman_blas_threads;
  const TrainSide* best = r.best_pytorch();
  t["pytorch_version"] = r.pytorch_version;
  t["pytorch_status"] = best ? "ok" : r.pytorch.empty() ? "not run" : r.pytorch[0].status;
  t["pytorch_reason"] = best ? "" : r.pytorch.empty() ? "" : r.pytorch[0].reason;
  t["pytorch_seq_per_s"] = best ? nlohmann::json(best->seq_per_s) : nullptr;
  t["pytorch_seconds"] = best ? nlohmann::json(best->seconds) : nullptr;
  t["pytorch_loss"] = best ? nlohmann::json(best->loss) : nullptr;
  t["pytorch_threads"] = best ? nlohmann::json(best->threads) : nullptr;
  t["pytorch_runs"] = nlohmann::json::array();
  for (const TrainSide& p : r.pytorch)
    if (p.status == "ok")
      t["pytorch_runs"].push_back({{"threads", p.threads},
                                   {"seconds", p.seconds},
                                   {"seq_per_s", p.seq_per_s},
                                   {"loss", p.loss}});
  const bool both = best && r.elman.status == "ok";
  t["ratio"] = both ? nlohmann::json(r.elman.seq_per_s / best->seq_per_s) : nullptr;
  t["ratio_is"] = "elman_seq_per_s / pytorch_seq_per_s (> 1: elman is faster)";
  t["loss_relative_difference"] = both ? nlohmann::json(train_loss_difference(r)) : nullptr;
  t["losses_agree"] = both ? nlohmann::json(train_losses_agree(r)) : nullptr;
  t["loss_tolerance"] = kTrainLossTolerance;
  t["timed"] =
      "one epoch's batches: gather, one-hot, forward, loss, backward, clip, Adam step (both "
      "sides); not timed: loading, a 2-step warm-up of a throwaway model, no validation";
  return {{"train", t}};
}

}  // namespace elman::bench
