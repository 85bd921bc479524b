// Scenario `series`: one-step-ahead forecasting of a real series read from a CSV column. Sliding
// windows, normalisation fitted on the training part only, a chronological validation split,
// and the validation error against the naive "same as the last value" forecast.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "ranks.h"
#include "scenario_common.h"
#include "scenarios.h"

namespace demo {
namespace {

struct SeriesOptions {
  std::string csv, column, missing = "interpolate";
  bool differences = false;
  int64_t window = 20, hidden = 32, epochs = 40, batch = 16, bptt = 50;
  float lr = 0.005f, clip = 1.0f, val_fraction = 0.2f;
};

struct Errors {
  double rmse = 0, mae = 0;
};

Errors errors_of(const std::vector<double>& pred, const std::vector<double>& truth) {
  Errors e;
  for (size_t i = 0; i < pred.size(); ++i) {
    const double d = pred[i] - truth[i];
    e.rmse += d * d;
    e.mae += std::fabs(d);
  }
  e.rmse = std::sqrt(e.rmse / static_cast<double>(pred.size()));
  e.mae /= static_cast<double>(pred.size());
  return e;
}

int run_series(const CommonOptions& common, const SeriesOptions& o) {
  const elman::MissingValues policy =
      o.missing == "skip" ? elman::MissingValues::kSkip : elman::MissingValues::kInterpolate;
  const elman::CsvColumn col = elman::read_csv_column(o.csv, o.column, policy);
  const std::vector<double>& x = col.values;
  const int64_t n = static_cast<int64_t>(x.size());
  std::printf("series: %s, column %s: %lld rows, %lld missing (%s", o.csv.c_str(), o.column.c_str(),
              static_cast<long long>(col.rows), static_cast<long long>(col.missing),
              o.missing.c_str());
  if (col.missing > 0)
    std::printf(": %lld interpolated, %lld dropped", static_cast<long long>(col.interpolated),
                static_cast<long long>(col.missing - col.interpolated));
  std::printf("), %lld values used\n", static_cast<long long>(n));

  // Chronological split: the last val_fraction of the targets are the validation set.
  const int64_t split = n - static_cast<int64_t>(std::llround(o.val_fraction * n));
  if (split - o.window < 3 || n - split < 1)
    throw elman::Error("series: " + std::to_string(n) + " values are too few for window " +
                       std::to_string(o.window) + " and validation fraction " +
                       std::to_string(o.val_fraction));
  // With --differences the RNN reads and predicts d[t] = x[t] - x[t-1] (d[0] = 0, never a
  // target): the forecast is x[t-1] + the predicted d[t], so a trend that leaves the training
  // range does not leave the range of the model's inputs.
  std::vector<double> series = x;
  if (o.differences)
    for (int64_t t = n - 1; t >= 0; --t) series[t] = t > 0 ? x[t] - x[t - 1] : 0.0;
  const elman::Normalizer norm =
      elman::Normalizer::fit(series, o.differences ? 1 : 0, split);  // training part only
  std::vector<double> z;
  for (double v : series) z.push_back(norm.normalize(v));
  const int64_t first = o.window + (o.differences ? 1 : 0);  // d[0] is not data
  const elman::Dataset train = elman::make_windows(z, o.window, first, split);
  const elman::Dataset val = elman::make_windows(z, o.window, split, n);
  std::printf(
      "%s windows of %lld: %lld for training (targets %lld..%lld), %lld for validation "
      "(the last %lld values); normalised with mean %.4g, std %.4g of the training part\n",
      o.differences ? "difference" : "value", static_cast<long long>(o.window),
      static_cast<long long>(train.size()), static_cast<long long>(first),
      static_cast<long long>(split - 1), static_cast<long long>(val.size()),
      static_cast<long long>(n - split), norm.mean, norm.scale);

  const elman::Device device = pick_device(common.device);
  elman::Context ctx(device);
  char mean[32], scale[32], fraction[32];
  std::snprintf(mean, sizeof mean, "%.17g", norm.mean);
  std::snprintf(scale, sizeof scale, "%.17g", norm.scale);
  std::snprintf(fraction, sizeof fraction, "%.9g", static_cast<double>(o.val_fraction));
  const ModelShape shape{1, o.hidden, 1, o.lr};
  const RunIdentity identity = run_identity("series", shape,
                                            {{"csv_content", file_fingerprint(o.csv)},
                                             {"column", o.column},
                                             {"missing", o.missing},
                                             {"window", std::to_string(o.window)},
                                             {"differences", o.differences ? "true" : "false"},
                                             {"val_fraction", fraction},
                                             {"normalizer_mean", mean},
                                             {"normalizer_scale", scale}});
  elman::TrainerOptions to;
  to.batch_size = o.batch;
  to.clip_norm = o.clip;
  to.bptt = o.bptt;
  const auto dir = make_run_folder(common, "series", identity, training_choices(common, shape, to));
  TrainingRun run(ctx, shape, common, dir, o.epochs, identity, to);
  std::printf(
      "RNN(1, %lld) + Linear(%lld, 1), Adam lr %g, batch %lld, clip %g, %s, on %s "
      "(losses: MSE of normalised values)\n",
      static_cast<long long>(o.hidden), static_cast<long long>(o.hidden), static_cast<double>(o.lr),
      static_cast<long long>(o.batch), static_cast<double>(o.clip),
      bptt_str(o.bptt, o.window).c_str(), device.str().c_str());
  const int64_t every = std::max<int64_t>(1, o.epochs / 10);
  const elman::FitResult fit = run.fit(train, val, [&](const elman::EpochResult& r) {
    if (r.epoch == 1 || r.epoch % every == 0 || r.epoch == o.epochs) print_epoch(r, o.epochs);
  });
  std::printf("trained %zu epochs in %.2f s\n", fit.epochs.size(), total_seconds(fit.epochs));
  if (stopped_early(fit)) return 1;

  // Validation forecasts in the series' own units, against the naive forecast x[t-1].
  const std::vector<float> pz = run.trainer().predict(val);
  std::vector<double> pred, naive, truth;
  std::ofstream csv;  // data parallel: rank 0 writes the run folder
  if (is_rank0()) csv.open(dir / "predictions.csv");
  csv << "index,actual,predicted,naive\n";
  for (int64_t t = split; t < n; ++t) {
    const double p = norm.denormalize(pz[static_cast<size_t>(t - split)]);
    pred.push_back(o.differences ? x[t - 1] + p : p);
    naive.push_back(x[t - 1]);
    truth.push_back(x[t]);
    char line[128];
    std::snprintf(line, sizeof line, "%lld,%.6g,%.6g,%.6g\n", static_cast<long long>(t), x[t],
                  pred.back(), naive.back());
    csv << line;
  }
  const Errors model = errors_of(pred, truth), base = errors_of(naive, truth);
  std::printf("\nvalidation (%lld one-step forecasts, in %s units):\n",
              static_cast<long long>(n - split), o.column.c_str());
  std::printf("  %-28s RMSE %9.3f   MAE %9.3f\n", "RNN", model.rmse, model.mae);
  std::printf("  %-28s RMSE %9.3f   MAE %9.3f\n", "naive (same as last value)", base.rmse,
              base.mae);
  std::printf("  RNN / naive RMSE: %.3f (%s)\n", model.rmse / base.rmse,
              model.rmse < base.rmse ? "the RNN beats the naive forecast"
                                     : "the RNN does NOT beat the naive forecast");

  // Hidden states while reading the last validation window.
  std::vector<float> last_window(z.end() - o.window - 1, z.end() - 1);
  std::vector<std::string> labels;
  for (int64_t t = n - 1 - o.window; t < n - 1; ++t) {
    char num[32];
    std::snprintf(num, sizeof num, "%.6g", x[t]);
    labels.push_back(num);
  }
  write_hidden_states(dir, labels, hidden_states_of(run.rnn, last_window, o.window));
  RunIdentity metadata = identity;
  metadata["head"] = "last_step";
  metadata["csv"] = o.csv;
  save_model(dir, run, metadata,
             "predictions.csv, metrics.csv, hidden_states.csv, model.safetensors, "
             "training.safetensors");
  return 0;
}

}  // namespace

void add_series(CLI::App& app, CommonOptions& common, int& status) {
  static SeriesOptions o;
  CLI::App* sub =
      app.add_subcommand("series", "forecast the next value of a CSV column (e.g. sunspots)");
  add_common_options(*sub, common);
  add_training_options(*sub, common);
  sub->add_option("--csv", o.csv, "the CSV file (header row, comma-separated)")->required();
  sub->add_option("--column", o.column, "the column to forecast, by its header name")->required();
  sub->add_option("--missing", o.missing,
                  "empty fields: interpolate (linearly between neighbours) or skip the rows")
      ->check(CLI::IsMember({"interpolate", "skip"}))
      ->capture_default_str();
  sub->add_flag("--differences", o.differences,
                "model the changes x[t] - x[t-1] instead of the values (for trending series)");
  add_positive_option(*sub, "--window", o.window, "past values the RNN reads per forecast");
  sub->add_option("--val-fraction", o.val_fraction,
                  "fraction of the series (at its end) held out for validation")
      ->capture_default_str()
      ->check(number_range(0.01, 0.9));
  add_positive_option(*sub, "--hidden", o.hidden, "hidden units");
  add_positive_option(*sub, "--epochs", o.epochs, "epochs");
  add_positive_option(*sub, "--batch", o.batch, "batch size");
  sub->add_option("--lr", o.lr, "Adam's learning rate")
      ->capture_default_str()
      ->check(number_range(0.0, 1e6));
  add_clip_and_bptt_options(*sub, o.clip, o.bptt);
  sub->callback([&common, &status] { status = run_series(common, o); });
}

}  // namespace demo
