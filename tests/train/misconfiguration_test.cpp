// Training set up wrongly is refused before it starts, never "trained" silently: an optimizer
// without the model's parameters, a clip_norm that would silently disable clipping, class ids
// outside the head's classes, and training checkpoints edited into impossible states.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::Model;
using train_test::regression;

TEST(Misconfiguration, OptimizerMustHoldBothModels) {
  Model m(2, 4, 1, 1), other(2, 4, 1, 2);
  Adam empty(m.ctx);
  EXPECT_ERROR_WITH(Trainer(m.rnn, m.fc, empty, TrainerOptions{}), "does not hold this RNN");
  EXPECT_ERROR_WITH(empty.step(), "no parameters");
  Adam others(m.ctx);
  train_test::add_model(others, other);
  EXPECT_ERROR_WITH(Trainer(m.rnn, m.fc, others, TrainerOptions{}), "does not hold this RNN");
  Adam half(m.ctx);
  half.add_parameters(m.rnn.flat_parameters(), m.rnn.flat_grads());
  EXPECT_ERROR_WITH(Trainer(m.rnn, m.fc, half, TrainerOptions{}), "does not hold this head");
  Model elsewhere(2, 4, 1, 3);  // another context
  Adam foreign(elsewhere.ctx);
  train_test::add_model(foreign, m);
  EXPECT_ERROR_WITH(Trainer(m.rnn, m.fc, foreign, TrainerOptions{}), "another context");
}

TEST(Misconfiguration, ClipNormMustBeOffOrPositiveFinite) {
  Model m(2, 4, 1, 1);
  Adam opt(m.ctx);
  train_test::add_model(opt, m);
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), -1.0f, std::numeric_limits<float>::infinity()}) {
    TrainerOptions o;
    o.clip_norm = bad;
    EXPECT_ERROR_WITH(Trainer(m.rnn, m.fc, opt, o), "clip_norm");
  }
  TrainerOptions o;
  o.clip_norm = 0.0f;  // off
  EXPECT_NO_THROW(Trainer(m.rnn, m.fc, opt, o));
}

TEST(Misconfiguration, CrossEntropyClassesOutOfRangeNameTheExample) {
  Model m(2, 4, 3, 1);  // three classes
  Adam opt(m.ctx);
  train_test::add_model(opt, m);
  TrainerOptions o;
  o.loss = LossType::kCrossEntropy;
  o.head = HeadMode::kEveryStep;
  Trainer tr(m.rnn, m.fc, opt, o);
  Dataset d = regression(4, 3, 2, 3, 1);
  for (float& t : d.targets) t = 1.0f;
  const std::vector<float> before = m.params();
  for (float bad : {5.0f, 1.5f, -1.0f, 3.0f}) {
    Dataset b = d;
    b.targets[7] = bad;  // example 2, step 1
    EXPECT_ERROR_WITH(tr.fit(b, nullptr), "example 2, step 1");
    EXPECT_ERROR_WITH(tr.fit(b, nullptr), "0..2");
  }
  EXPECT_EQ(m.params(), before);  // refused before any step
  EXPECT_NO_THROW(tr.fit(d, nullptr));
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("elman_misconf_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(Misconfiguration, HandEditedTrainingCheckpointsAreRefused) {
  Model m(2, 4, 1, 1);
  Adam opt(m.ctx, AdamOptions{0.01f});
  train_test::add_model(opt, m);
  TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 4;
  Trainer tr(m.rnn, m.fc, opt, o);
  tr.fit(regression(8, 3, 2, 1, 1), nullptr);
  const std::string path = temp_path("good.safetensors");
  tr.save_checkpoint(path);
  std::map<std::string, std::string> meta;
  const TensorMap good = load_safetensors(path, &meta);

  auto edited = [&](const TensorMap& t, std::map<std::string, std::string> md) {
    const std::string p = temp_path("edited.safetensors");
    save_safetensors(p, t, md);
    return p;
  };
  Model m2(2, 4, 1, 9);
  Adam opt2(m2.ctx, AdamOptions{0.01f});
  train_test::add_model(opt2, m2);
  Trainer tr2(m2.rnn, m2.fc, opt2, o);
  const std::vector<float> before = m2.params();

  auto counters = meta;
  counters["epoch"] = "50";  // 50 epochs in 4 optimizer steps: impossible
  EXPECT_ERROR_WITH(tr2.load_checkpoint(edited(good, counters)), "optimizer steps");
  TensorMap negative = good;
  negative.at("optimizer.0.exp_avg_sq").values[3] = -1.0f;
  EXPECT_ERROR_WITH(tr2.load_checkpoint(edited(negative, meta)), "exp_avg_sq");
  EXPECT_EQ(m2.params(), before);
  EXPECT_NO_THROW(tr2.load_checkpoint(path));
}

TEST(Misconfiguration, AFileOfManyTensorsGetsAShortError) {
  Model m(2, 4, 1, 1);
  TensorMap many;
  for (int i = 0; i < 20000; ++i) many["t" + std::to_string(i)] = NamedArray{{1}, {0.0f}};
  const std::string path = temp_path("many.safetensors");
  save_safetensors(path, many);
  try {
    load_checkpoint(path, m.rnn, m.fc);
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 600u);
    EXPECT_NE(std::string(e.what()).find("(20000 in all)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace elman
