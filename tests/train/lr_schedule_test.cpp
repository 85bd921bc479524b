// Learning-rate schedules: PyTorch's StepLR and CosineAnnealingLR rates epoch by epoch (fixtures
// from tools/make_lr_schedule_fixtures.py), their text form, the trainer applying them once per
// epoch, and a resumed run continuing the schedule exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/source_path.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::Model;
using train_test::regression;

TEST(LRSchedule, MatchesPyTorchEpochByEpoch) {
  std::ifstream f(test::source_path("tests/fixtures/lr_schedules.json"));
  ASSERT_TRUE(f) << "missing tests/fixtures/lr_schedules.json";
  const nlohmann::json j = nlohmann::json::parse(f);
  const double base = j.at("base_lr").get<double>();
  ASSERT_EQ(j.at("cases").size(), 4u);
  for (const auto& c : j.at("cases")) {
    const LRSchedule s = LRSchedule::parse(c.at("schedule").get<std::string>());
    const std::vector<double> rates = c.at("rates").get<std::vector<double>>();
    for (size_t e = 0; e < rates.size(); ++e)
      EXPECT_NEAR(s.rate_at(base, static_cast<int64_t>(e)), rates[e], 1e-12 * base)
          << s.str() << " epoch " << e;
  }
}

TEST(LRSchedule, TextRoundTripsAndBadTextIsNamed) {
  for (const char* text :
       {"constant", "step:3:0.5", "step:10:0.1", "cosine:50:0", "cosine:7:1e-05"})
    EXPECT_EQ(LRSchedule::parse(text).str(), text);
  EXPECT_EQ(LRSchedule::parse("step:4").str(), "step:4:0.1");  // PyTorch's default gamma
  EXPECT_EQ(LRSchedule::parse("cosine:9").str(), "cosine:9:0");
  EXPECT_EQ(LRSchedule::parse("step:2:0.3"), LRSchedule::step(2, 0.3));
  EXPECT_ERROR_WITH(LRSchedule::parse("linear:3"), "expected constant, step:STEP_SIZE[:GAMMA]");
  EXPECT_ERROR_WITH(LRSchedule::parse("step:0"), "step_size '0' must be a whole number");
  EXPECT_ERROR_WITH(LRSchedule::parse("step:2.5"), "whole number of epochs");
  EXPECT_ERROR_WITH(LRSchedule::parse("step:3:x"), "gamma 'x' is not a number");
  EXPECT_ERROR_WITH(LRSchedule::parse("step:3:-1"), "gamma is -1, expected a finite value > 0");
  EXPECT_ERROR_WITH(LRSchedule::parse("cosine:5:-0.1"), "eta_min is -0.1");
  EXPECT_ERROR_WITH(LRSchedule::parse("cosine:5:1:2"), "expected constant");
  EXPECT_ERROR_WITH(LRSchedule::parse(""), "expected constant");
}

// A small regression run: 2 -> 5 -> 1, Adam at `lr`.
struct ScheduledRun {
  Model m{2, 5, 1, 7};
  Adam opt;
  std::unique_ptr<Trainer> tr;
  ScheduledRun(const LRSchedule& s, int64_t epochs, float lr = 0.02f)
      : opt(m.ctx, AdamOptions{lr}) {
    train_test::add_model(opt, m);
    TrainerOptions o;
    o.epochs = epochs;
    o.batch_size = 4;
    o.seed = 3;
    o.lr_schedule = s;
    tr = std::make_unique<Trainer>(m.rnn, m.fc, opt, o);
  }
};

TEST(LRSchedule, TrainerSetsTheRateOfEveryEpoch) {
  const Dataset data = regression(10, 4, 2, 1, 1);
  const LRSchedule s = LRSchedule::step(2, 0.5);
  ScheduledRun run(s, 5);
  std::vector<float> seen;
  run.tr->fit(data, nullptr, [&](const EpochResult&) { seen.push_back(run.opt.learning_rate()); });
  ASSERT_EQ(seen.size(), 5u);
  for (int64_t e = 0; e < 5; ++e)
    EXPECT_EQ(seen[static_cast<size_t>(e)], static_cast<float>(s.rate_at(0.02f, e))) << e;
  EXPECT_FLOAT_EQ(seen[4], 0.02f * 0.25f);

  // Constant leaves the optimizer's rate as the user set it.
  ScheduledRun constant(LRSchedule::constant(), 2);
  constant.opt.set_learning_rate(0.005f);
  constant.tr->fit(data, nullptr);
  EXPECT_EQ(constant.opt.learning_rate(), 0.005f);

  // A bad schedule is refused when the trainer is built.
  LRSchedule bad = LRSchedule::cosine(4);
  bad.t_max = 0;
  EXPECT_ERROR_WITH(ScheduledRun(bad, 1), "t_max is 0");
}

TEST(LRSchedule, ResumeContinuesTheSchedule) {
  const Dataset data = regression(10, 4, 2, 1, 1);
  const LRSchedule s = LRSchedule::cosine(4, 0.001);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("elman_lr_schedule_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  ScheduledRun straight(s, 5);
  straight.tr->fit(data, nullptr);
  {
    ScheduledRun first(s, 2);
    first.tr->fit(data, nullptr);
    first.tr->save_checkpoint(path);
  }
  ScheduledRun second(s, 3, 0.7f);  // whatever rate the new process starts from, the file decides
  const auto meta = second.tr->load_checkpoint(path);
  EXPECT_EQ(meta.at("lr_schedule"), "cosine:4:0.001");
  second.tr->fit(data, nullptr);
  EXPECT_EQ(second.m.params(), straight.m.params());  // bitwise
  EXPECT_EQ(second.opt.learning_rate(), straight.opt.learning_rate());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace elman
