// The trainer: reproducibility (same seed, same losses), one step's update against finite
// differences of the loss for every head and loss, the loss falling on each demo scenario's
// data, short last batches, the early stop on a non-finite loss, and the data readers.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "tests/source_path.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::add_model;
using train_test::Model;
using train_test::random_floats;
using train_test::regression;
using train_test::rnn_options;

const std::string kData = test::source_path("data") + "/";

std::vector<double> train_losses(uint64_t shuffle_seed, int64_t batch) {
  Model m(2, 6, 1, 3);
  Adam opt(m.ctx, AdamOptions{0.01f});
  add_model(opt, m);
  TrainerOptions o;
  o.epochs = 4;
  o.batch_size = batch;
  o.seed = shuffle_seed;
  o.clip_norm = 1.0f;
  Trainer tr(m.rnn, m.fc, opt, o);
  const Dataset train = regression(23, 5, 2, 1, 1), val = regression(7, 5, 2, 1, 2);
  std::vector<double> losses;
  for (const auto& r : tr.fit(train, &val).epochs) {
    losses.push_back(r.train_loss);
    losses.push_back(r.val_loss);
  }
  return losses;
}

TEST(Trainer, SameSeedSameLosses) {
  const auto a = train_losses(42, 5), b = train_losses(42, 5);
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a, b);  // bit-identical: same seed, same device, same order of operations
  EXPECT_NE(a, train_losses(43, 5));  // the shuffle seed matters (23 = 4 x 5 + a batch of 3)
}

TEST(Trainer, SeededPermutationIsAPermutationAndFixed) {
  std::mt19937_64 g1(5), g2(5);
  const auto p = seeded_permutation(50, g1);
  EXPECT_EQ(p, seeded_permutation(50, g2));
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
}

// One full-batch SGD step with lr 1 moves the parameters by -grad; grad is checked against
// central differences of the loss that Trainer::evaluate measures.
void check_step_gradient(HeadMode head, LossType loss, int64_t layers = 1,
                         bool bidirectional = false) {
  const int64_t n = 6, T = 4, I = 3, H = 5;
  const int64_t K = loss == LossType::kCrossEntropy ? 4 : 2;
  Model m(rnn_options(I, H, layers, bidirectional), K, 9);
  SGD opt(m.ctx, SGDOptions{1.0f});
  add_model(opt, m);
  TrainerOptions o;
  o.epochs = 1;
  o.batch_size = n;
  o.head = head;
  o.loss = loss;
  o.shuffle = false;
  Trainer tr(m.rnn, m.fc, opt, o);
  Dataset d;
  d.seq_len = T;
  d.input_size = I;
  if (loss == LossType::kMSE) {
    d = regression(n, T, I, head == HeadMode::kLastStep ? K : T * K, 4);
  } else {
    d.tokens = true;
    d.input_size = I;
    d.target_size = head == HeadMode::kLastStep ? 1 : T;
    for (int64_t i = 0; i < n * T; ++i) d.input_ids.push_back((i * 7 + 1) % I);
    for (int64_t i = 0; i < n * d.target_size; ++i) d.target_ids.push_back((i * 5 + 2) % K);
  }
  const double error = train_test::step_gradient_error(
      m.params(), [&](const std::vector<float>& p) { m.set_params(p); },
      [&] { return tr.evaluate(d); },
      [&] {
        tr.fit(d, nullptr);
        return m.params();
      });
  // Float losses differenced over 2h = 0.02 (rounding ~1e-7 / 0.02 = 5e-6 per component) plus
  // O(h^2) truncation; measured 2e-5..4e-4 here. A wrong transpose or a lost gradient path
  // gives errors of order 1.
  EXPECT_LT(error, 5e-3);
}

TEST(Trainer, StepGradientLastStepMse) { check_step_gradient(HeadMode::kLastStep, LossType::kMSE); }
TEST(Trainer, StepGradientEveryStepMse) {
  check_step_gradient(HeadMode::kEveryStep, LossType::kMSE);
}
TEST(Trainer, StepGradientLastStepCrossEntropy) {
  check_step_gradient(HeadMode::kLastStep, LossType::kCrossEntropy);
}
TEST(Trainer, StepGradientEveryStepCrossEntropy) {
  check_step_gradient(HeadMode::kEveryStep, LossType::kCrossEntropy);
}
// output[:, -1, :] of a bidirectional stack holds the forward direction's last state and the
// reverse direction's first one: the head's gradient must reach both through two layers.
TEST(Trainer, StepGradientLastStepTwoLayersBidirectional) {
  check_step_gradient(HeadMode::kLastStep, LossType::kMSE, 2, true);
}
TEST(Trainer, StepGradientEveryStepTwoLayersBidirectional) {
  check_step_gradient(HeadMode::kEveryStep, LossType::kCrossEntropy, 2, true);
}

// Trains and returns (first epoch's train loss, last epoch's train loss).
std::pair<double, double> first_last(Model& m, const Dataset& train, const TrainerOptions& o,
                                     float lr) {
  Adam opt(m.ctx, AdamOptions{lr});
  add_model(opt, m);
  Trainer tr(m.rnn, m.fc, opt, o);
  const FitResult r = tr.fit(train, nullptr);
  EXPECT_FALSE(r.stopped) << r.message;
  return {r.epochs.front().train_loss, r.epochs.back().train_loss};
}

TEST(Trainer, LossFallsOnNextNumberData) {
  // The tutorial's raw windows (values 0..54, target the next one), last-step head.
  Dataset d;
  d.seq_len = 5;
  d.input_size = 1;
  d.target_size = 1;
  for (int s = 0; s < 50; ++s) {
    for (int k = 0; k < 5; ++k) d.inputs.push_back(static_cast<float>(s + k));
    d.targets.push_back(static_cast<float>(s + 5));
  }
  Model m(1, 16, 1, 1);
  TrainerOptions o;
  o.epochs = 20;
  o.batch_size = 10;
  const auto [first, last] = first_last(m, d, o, 0.01f);
  EXPECT_LT(last, 0.5 * first);
}

TEST(Trainer, LossFallsOnSunspots) {
  const CsvColumn col = read_csv_column(kData + "sunspots_yearly.csv", "SUNACTIVITY");
  ASSERT_EQ(col.values.size(), 309u);
  const Normalizer norm = Normalizer::fit(col.values, 0, 250);
  std::vector<double> z;
  for (double v : col.values) z.push_back(norm.normalize(v));
  const Dataset train = make_windows(z, 12, 12, 250);
  Model m(1, 16, 1, 2);
  TrainerOptions o;
  o.epochs = 15;
  o.batch_size = 16;
  const auto [first, last] = first_last(m, train, o, 0.01f);
  EXPECT_LT(last, 0.5 * first);
}

TEST(Trainer, LossFallsOnShakespeare) {
  const std::string text = read_text_file(kData + "tinyshakespeare.txt").substr(0, 20000);
  const Vocabulary vocab = Vocabulary::from_text(text);
  const Dataset d = make_char_sequences(vocab.encode(text), vocab.size(), 25, 0, 20000);
  Model m(vocab.size(), 32, vocab.size(), 3);
  TrainerOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  o.head = HeadMode::kEveryStep;
  o.loss = LossType::kCrossEntropy;
  const auto [first, last] = first_last(m, d, o, 0.01f);
  // Starts near ln(vocab) (uniform guesses); three epochs reach clearly below the unigram level.
  EXPECT_LT(first, std::log(static_cast<double>(vocab.size())));
  EXPECT_LT(last, 0.8 * first);
}

TEST(Trainer, StopsOnNonFiniteLoss) {
  Model m(2, 4, 1, 1);
  SGD opt(m.ctx, SGDOptions{1e30f});
  add_model(opt, m);
  TrainerOptions o;
  o.epochs = 20;
  o.batch_size = 4;
  Trainer tr(m.rnn, m.fc, opt, o);
  const FitResult r = tr.fit(regression(16, 3, 2, 1, 5), nullptr);
  EXPECT_TRUE(r.stopped);
  EXPECT_LT(r.epochs.size(), 20u);
  EXPECT_NE(r.message.find("not finite"), std::string::npos) << r.message;
}

TEST(Trainer, RejectsMismatchedData) {
  Model m(2, 4, 1, 1);
  Adam opt(m.ctx);
  add_model(opt, m);
  Trainer tr(m.rnn, m.fc, opt, TrainerOptions{});
  EXPECT_THROW(tr.fit(regression(8, 3, 3, 1, 1), nullptr), Error);  // input_size 3 != 2
  EXPECT_THROW(tr.fit(regression(8, 3, 2, 2, 1), nullptr), Error);  // 2 targets != 1
  Dataset bad = regression(8, 3, 2, 1, 1);
  bad.targets[3] = NAN;
  EXPECT_THROW(tr.fit(bad, nullptr), Error);
}

TEST(Data, CsvMissingValuesAreInterpolatedOrSkippedNeverZero) {
  const CsvColumn in = read_csv_column(kData + "co2_weekly.csv", "co2");
  const CsvColumn sk = read_csv_column(kData + "co2_weekly.csv", "co2", MissingValues::kSkip);
  EXPECT_GT(in.missing, 0);
  EXPECT_EQ(sk.values.size() + static_cast<size_t>(sk.missing), static_cast<size_t>(sk.rows));
  for (double v : in.values) EXPECT_GT(v, 300.0);  // CO2 ppm: no zero crept in
  // Every value is either read or interpolated (only gaps at the very ends are dropped).
  EXPECT_EQ(in.values.size(), sk.values.size() + static_cast<size_t>(in.interpolated));
}

TEST(Data, CsvErrorsNameFileLineAndColumn) {
  const std::string path = ::testing::TempDir() + "bad.csv";
  {
    std::ofstream f(path);
    f << "a,b\n1,2\n3,x4\n";
  }
  try {
    read_csv_column(path, "b");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path + ":3: column 2 ('b'): 'x4'"), std::string::npos) << msg;
  }
  EXPECT_THROW(read_csv_column(path, "c"), Error);
  EXPECT_THROW(read_csv_column(path + ".missing", "b"), Error);
}

// Inputs too small for what is asked of them are clear errors, not empty data sets.
TEST(Data, EmptyOrTooShortInputsAreClearErrors) {
  const std::string empty = ::testing::TempDir() + "empty.csv";
  const std::string header_only = ::testing::TempDir() + "header_only.csv";
  { std::ofstream f(empty); }
  {
    std::ofstream f(header_only);
    f << "a,b\n";
  }
  try {
    read_csv_column(empty, "a");
    ADD_FAILURE() << "an empty file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is empty"), std::string::npos) << e.what();
  }
  try {
    read_csv_column(header_only, "a");
    ADD_FAILURE() << "a file without values was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no values in column 'a'"), std::string::npos)
        << e.what();
  }
  // A series shorter than the window, or exactly as long (no target left): errors naming both.
  try {
    make_windows({1, 2, 3}, 5, 5, 3);
    ADD_FAILURE() << "a series shorter than the window was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("window = 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_windows({1, 2, 3, 4, 5}, 5, 5, 6), Error);
  EXPECT_THROW(make_windows({1, 2, 3}, 0, 1, 3), Error);
  // Character sequences longer than the text.
  const Vocabulary v = Vocabulary::from_text("abc");
  try {
    make_char_sequences(v.encode("abc"), v.size(), 10, 0, 3);
    ADD_FAILURE() << "a text shorter than one sequence was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too few for one sequence"), std::string::npos)
        << e.what();
  }
}

TEST(Data, InterpolationIsLinear) {
  const std::string path = ::testing::TempDir() + "gap.csv";
  {
    std::ofstream f(path);
    f << "t,v\n0,1\n1,\n2,\n3,4\n4,\n";  // a gap inside, and one at the end (dropped)
  }
  const CsvColumn c = read_csv_column(path, "v");
  EXPECT_EQ(c.values, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(c.missing, 3);
  EXPECT_EQ(c.interpolated, 2);
}

TEST(Data, WindowsAndCharSequences) {
  const Dataset w = make_windows({0, 1, 2, 3, 4, 5}, 3, 3, 6);
  EXPECT_EQ(w.size(), 3);
  EXPECT_EQ(w.inputs, (std::vector<float>{0, 1, 2, 1, 2, 3, 2, 3, 4}));
  EXPECT_EQ(w.targets, (std::vector<float>{3, 4, 5}));
  const Vocabulary v = Vocabulary::from_text("abcab");
  EXPECT_EQ(v.size(), 3);
  const Dataset c = make_char_sequences(v.encode("abcabca"), v.size(), 3, 0, 7);
  EXPECT_EQ(c.size(), 2);  // [a b c]->[b c a], [a b c]->[b c a]
  EXPECT_TRUE(c.tokens);
  EXPECT_EQ(c.input_ids, (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(c.target_ids, (std::vector<int64_t>{1, 2, 0, 1, 2, 0}));
  EXPECT_TRUE(c.targets.empty());
  EXPECT_THROW(v.id('z'), Error);
}

}  // namespace
}  // namespace elman
