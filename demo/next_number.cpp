// Scenario `next-number`: the tutorial's "predict the next integer" task (windows of 5
// consecutive integers, start 0-49, 100 examples, batch 10, Adam), modelled so it extrapolates.
//
// The modelling choice (--encoding diff, the default): the RNN reads the window's differences
// x_t - x_{t-1} and predicts, at every step, the next difference; the prediction is the last
// value plus the last step's output. The model never sees the level, so a window far outside
// the training range (100..104) is as easy as one inside it, and a shorter window (1, 2, 3) is
// just an earlier step of the same sequence. --encoding raw is the tutorial's model (raw values,
// last-step head), kept to show why it answers ~45 for 100..104.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "ranks.h"
#include "scenario_common.h"
#include "scenarios.h"

namespace demo {
namespace {

struct NextNumberOptions {
  std::string encoding = "diff";
  int64_t examples = 100, val_examples = 20, window = 5, start_max = 50;
  int64_t hidden = 20, batch = 10, epochs = 50;
  float lr = 0.01f;
};

// One window's model inputs (and the targets that go with it when `next` is given).
struct Encoded {
  std::vector<float> inputs;   // [steps, 1]
  std::vector<float> targets;  // diff: [steps] next differences; raw: [1] the next value
};

Encoded encode(const std::string& encoding, const std::vector<double>& w, double next) {
  Encoded e;
  if (encoding == "diff") {
    for (size_t t = 1; t < w.size(); ++t) {
      e.inputs.push_back(static_cast<float>(w[t] - w[t - 1]));
      e.targets.push_back(static_cast<float>((t + 1 < w.size() ? w[t + 1] : next) - w[t]));
    }
  } else {
    for (double v : w) e.inputs.push_back(static_cast<float>(v));
    e.targets.push_back(static_cast<float>(next));
  }
  return e;
}

// `count` windows of `window` consecutive integers starting uniformly in [0, start_max).
elman::Dataset make_data(const NextNumberOptions& o, int64_t count, std::mt19937_64& gen) {
  elman::Dataset d;
  d.input_size = 1;
  d.seq_len = o.encoding == "diff" ? o.window - 1 : o.window;
  d.target_size = o.encoding == "diff" ? d.seq_len : 1;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t start = static_cast<int64_t>(gen() % static_cast<uint64_t>(o.start_max));
    std::vector<double> w;
    for (int64_t k = 0; k < o.window; ++k) w.push_back(static_cast<double>(start + k));
    const Encoded e = encode(o.encoding, w, static_cast<double>(start + o.window));
    d.inputs.insert(d.inputs.end(), e.inputs.begin(), e.inputs.end());
    d.targets.insert(d.targets.end(), e.targets.begin(), e.targets.end());
  }
  return d;
}

// The model's prediction of the number following `w` (any length >= 2 with diff).
double predict_next(elman::RNN& rnn, elman::Linear& fc, const std::string& encoding,
                    const std::vector<double>& w) {
  const Encoded e = encode(encoding, w, 0.0);
  const int64_t steps = static_cast<int64_t>(e.inputs.size());
  const elman::Device dev = rnn.context().device();
  const elman::Tensor x = elman::Tensor::from_vector({1, steps, 1}, e.inputs, dev);
  const elman::Tensor out = rnn.forward(x).output;  // [1, T, H]
  const int64_t H = rnn.options().hidden_size;
  const elman::Tensor last = out.view({1, H}, (steps - 1) * H);  // output[:, -1, :]
  const float y = fc.forward(last).to_vector()[0];
  return encoding == "diff" ? w.back() + y : y;
}

int run_next_number(const CommonOptions& common, const NextNumberOptions& o) {
  if (o.window < 2) throw elman::Error("next-number: --window must be >= 2");
  const elman::Device device = pick_device(common.device);
  elman::Context ctx(device);
  const ModelShape shape{1, o.hidden, 1, o.lr};
  const RunIdentity identity = run_identity("next-number", shape,
                                            {{"encoding", o.encoding},
                                             {"window", std::to_string(o.window)},
                                             {"examples", std::to_string(o.examples)},
                                             {"start_max", std::to_string(o.start_max)},
                                             {"data_seed", std::to_string(common.seed)}});
  // The tutorial's RNNPyTorch: nn.RNN(1, hidden, batch_first=True) + nn.Linear(hidden, 1).
  elman::TrainerOptions to;
  to.batch_size = o.batch;
  to.head = o.encoding == "diff" ? elman::HeadMode::kEveryStep : elman::HeadMode::kLastStep;
  to.loss = elman::LossType::kMSE;
  const auto dir =
      make_run_folder(common, "next-number", identity, training_choices(common, shape, to));

  std::mt19937_64 data_gen(common.seed);
  const elman::Dataset train = make_data(o, o.examples, data_gen);
  const elman::Dataset val = make_data(o, o.val_examples, data_gen);
  TrainingRun run(ctx, shape, common, dir, o.epochs, identity, to);

  std::cout << "next-number: " << o.examples << " windows of " << o.window
            << " consecutive integers (start 0-" << o.start_max - 1 << "), batch " << o.batch
            << ", Adam lr " << o.lr << ", hidden " << o.hidden << ", encoding " << o.encoding
            << (o.encoding == "diff"
                    ? " (inputs: differences; every step predicts the next difference)"
                    : " (inputs: raw values; the last step predicts the next value)")
            << ", on " << device.str() << "\n";
  const elman::FitResult fit = run.fit(train, val, [&](const elman::EpochResult& r) {
    if (r.epoch == 1 || r.epoch % 10 == 0 || r.epoch == o.epochs) print_epoch(r, o.epochs);
  });
  std::printf("trained %zu epochs in %.2f s (MSE of the %s)\n", fit.epochs.size(),
              total_seconds(fit.epochs), o.encoding == "diff" ? "differences" : "values");
  if (stopped_early(fit)) return 1;

  const std::vector<std::vector<double>> tests = {{1, 2, 3},
                                                  {5, 6, 7},
                                                  {10, 11, 12},
                                                  {10, 11, 12, 13, 14},
                                                  {25, 26, 27, 28, 29},
                                                  {100, 101, 102, 103, 104}};
  std::ofstream csv;  // data parallel: rank 0 writes the run folder
  if (is_rank0()) csv.open(dir / "predictions.csv");
  csv << "input,expected,predicted\n";
  std::printf("\n%-26s %9s %11s %9s\n", "input", "expected", "predicted", "error");
  bool all_close = true;
  for (const auto& w : tests) {
    std::string in;
    for (double v : w) in += (in.empty() ? "" : " ") + std::to_string(static_cast<long long>(v));
    const double expected = w.back() + 1.0;
    const double predicted = predict_next(run.rnn, run.fc, o.encoding, w);
    const double err = predicted - expected;
    all_close = all_close && std::fabs(err) <= 0.5;
    std::printf("%-26s %9.0f %11.4f %+9.4f\n", ("[" + in + "]").c_str(), expected, predicted, err);
    char line[64];
    std::snprintf(line, sizeof line, ",%.0f,%.4f\n", expected, predicted);
    csv << in << line;
  }
  std::printf("%s\n", all_close ? "all predictions within 0.5 of the truth"
                                : "NOT all predictions are within 0.5 of the truth");

  // Hidden states while reading [10..14], for tools/plot.py.
  const std::vector<double> shown = {10, 11, 12, 13, 14};
  const Encoded e = encode(o.encoding, shown, 15);
  std::vector<std::string> labels;
  for (float v : e.inputs) labels.push_back(std::to_string(static_cast<long long>(v)));
  write_hidden_states(dir, labels,
                      hidden_states_of(run.rnn, e.inputs, static_cast<int64_t>(e.inputs.size())));
  RunIdentity metadata = identity;
  metadata["head"] = o.encoding == "diff" ? "every_step" : "last_step";
  save_model(dir, run, metadata,
             "predictions.csv, metrics.csv, hidden_states.csv, model.safetensors, "
             "training.safetensors");
  return all_close || o.encoding == "raw" ? 0 : 1;
}

}  // namespace

void add_next_number(CLI::App& app, CommonOptions& common, int& status) {
  static NextNumberOptions o;
  CLI::App* sub = app.add_subcommand(
      "next-number", "learn to predict the next of consecutive integers (the tutorial's task)");
  add_common_options(*sub, common);
  add_training_options(*sub, common);
  sub->add_option("--encoding", o.encoding,
                  "diff: differences in, next difference out (extrapolates); raw: the "
                  "tutorial's raw values")
      ->check(CLI::IsMember({"diff", "raw"}))
      ->capture_default_str();
  add_positive_option(*sub, "--epochs", o.epochs, "epochs");
  add_positive_option(*sub, "--examples", o.examples, "training windows", 10000000);
  sub->add_option("--window", o.window, "numbers per window")
      ->capture_default_str()
      ->check(integer_range(2, 1000));
  add_positive_option(*sub, "--hidden", o.hidden, "hidden units");
  add_positive_option(*sub, "--batch", o.batch, "batch size");
  sub->add_option("--lr", o.lr, "Adam's learning rate")
      ->capture_default_str()
      ->check(number_range(0.0, 1e6));
  sub->callback([&common, &status] { status = run_next_number(common, o); });
}

}  // namespace demo
