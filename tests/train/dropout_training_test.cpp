// Training with dropout: the same run twice gives the same weights, and a run resumed from a
// training checkpoint (in a model built with another seed) draws the masks the uninterrupted
// one drew, ending bit for bit where it ends.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::Model;
using train_test::regression;

struct DropoutRun {
  Model m;
  Adam opt;
  std::unique_ptr<Trainer> tr;
  DropoutRun(int64_t epochs, uint64_t seed)
      : m(options(), 1, seed), opt(m.ctx, AdamOptions{0.02f}) {
    train_test::add_model(opt, m);
    TrainerOptions o;
    o.epochs = epochs;
    o.batch_size = 4;
    o.seed = 5;
    o.head = HeadMode::kEveryStep;
    tr = std::make_unique<Trainer>(m.rnn, m.fc, opt, o);
  }
  static RNNOptions options() {
    RNNOptions o = train_test::rnn_options(2, 6, 3);
    o.dropout = 0.3f;
    return o;
  }
};

TEST(DropoutTraining, ReproducibleAndResumesExactly) {
  const int64_t T = 5;
  const Dataset data = regression(10, T, 2, T, 1);
  DropoutRun straight(4, 3), again(4, 3);
  straight.tr->fit(data, nullptr);
  again.tr->fit(data, nullptr);
  EXPECT_EQ(straight.m.params(), again.m.params());
  EXPECT_EQ(straight.m.rnn.dropout_calls(), 12u);  // 3 batches x 4 epochs

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("elman_dropout_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  {
    DropoutRun first(2, 3);
    first.tr->fit(data, nullptr);
    first.tr->save_checkpoint(path);
  }
  DropoutRun second(2, 77);  // another seed: weights and the dropout stream come from the file
  second.tr->load_checkpoint(path);
  EXPECT_EQ(second.m.rnn.dropout_seed(), 3u);
  EXPECT_EQ(second.m.rnn.dropout_calls(), 6u);
  second.tr->fit(data, nullptr);
  EXPECT_EQ(second.m.params(), straight.m.params());
  std::filesystem::remove(path);

  // The masks are drawn at all: the same run without dropout ends elsewhere.
  Model plain(train_test::rnn_options(2, 6, 3), 1, 3);
  Adam opt(plain.ctx, AdamOptions{0.02f});
  train_test::add_model(opt, plain);
  TrainerOptions o = straight.tr->options();
  Trainer(plain.rnn, plain.fc, opt, o).fit(data, nullptr);
  EXPECT_NE(plain.params(), straight.m.params());
}

}  // namespace
}  // namespace elman
