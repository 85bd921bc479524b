// Training checkpoints and numerical faults: a resumed run continues exactly as an
// uninterrupted one; a non-finite loss or gradient stops training naming the epoch, the step,
// the tensor and the last good checkpoint, which stays on disk, finite.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cuda_skip.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

namespace fs = std::filesystem;

using train_test::Model;
using train_test::regression;

std::string temp_dir() {
  const fs::path dir =
      fs::temp_directory_path() / ("elman_resume_" + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

enum class Opt { kAdam, kSgdMomentum, kAdamW };

// One "process": a model, an optimizer and a trainer built from scratch.
struct Session {
  Model m;
  std::unique_ptr<Optimizer> opt;
  std::unique_ptr<Trainer> tr;
  Session(Opt kind, int64_t epochs, uint64_t model_seed, int64_t bptt = 0,
          const std::string& checkpoint = "", Device dev = Device::cpu())
      : m(2, 6, 1, model_seed, dev) {
    if (kind == Opt::kAdam) opt = std::make_unique<Adam>(m.ctx, AdamOptions{0.01f});
    if (kind == Opt::kAdamW) opt = std::make_unique<AdamW>(m.ctx, AdamWOptions{});
    if (kind == Opt::kSgdMomentum) {
      SGDOptions so;
      so.lr = 0.05f;
      so.momentum = 0.9f;
      opt = std::make_unique<SGD>(m.ctx, so);
    }
    train_test::add_model(*opt, m);
    TrainerOptions o;
    o.epochs = epochs;
    o.batch_size = 4;  // 11 examples: 4, 4, 3 (a short last batch)
    o.seed = 21;
    o.clip_norm = 1.0f;
    o.head = HeadMode::kEveryStep;
    o.bptt = bptt;
    o.checkpoint_path = checkpoint;
    tr = std::make_unique<Trainer>(m.rnn, m.fc, *opt, o);
  }
};

std::vector<double> losses_of(const FitResult& r) {
  std::vector<double> v;
  for (const auto& e : r.epochs) {
    v.push_back(static_cast<double>(e.epoch));
    v.push_back(e.train_loss);
    if (!std::isnan(e.val_loss)) v.push_back(e.val_loss);  // NaN without a validation set
  }
  return v;
}

class Resume : public ::testing::TestWithParam<Opt> {};

TEST_P(Resume, ContinuesExactlyAsAnUninterruptedRun) {
  const int64_t T = 6;
  const Dataset train = regression(11, T, 2, T, 1), val = regression(5, T, 2, T, 2);
  const std::string path = temp_dir() + "/training.safetensors";
  for (int64_t bptt : {0, 4}) {
    Session straight(GetParam(), 4, 3, bptt);
    const std::vector<double> all = losses_of(straight.tr->fit(train, &val));
    ASSERT_EQ(all.size(), 12u);

    std::vector<double> resumed;
    {
      Session first(GetParam(), 2, 3, bptt);
      resumed = losses_of(first.tr->fit(train, &val));
      first.tr->save_checkpoint(path, {{"note", "kept"}});
    }
    // A fresh "process": other initial weights (seed 99), so everything must come from the file.
    Session second(GetParam(), 2, 99, bptt);
    const auto meta = second.tr->load_checkpoint(path);
    EXPECT_EQ(meta.at("note"), "kept");
    EXPECT_EQ(meta.at("epoch"), "2");
    EXPECT_EQ(second.tr->epochs_done(), 2);
    const std::vector<double> rest = losses_of(second.tr->fit(train, &val));
    resumed.insert(resumed.end(), rest.begin(), rest.end());
    EXPECT_EQ(resumed, all) << "bptt " << bptt;  // epochs 1..4, losses bit for bit
    EXPECT_EQ(second.m.params(), straight.m.params()) << "bptt " << bptt;  // bitwise
    EXPECT_EQ(second.opt->step_count(), straight.opt->step_count());
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, Resume,
                         ::testing::Values(Opt::kAdam, Opt::kSgdMomentum, Opt::kAdamW));

TEST(Resume, CheckpointEveryEpochResumes) {
  // fit() writes the checkpoint after every epoch; resuming from it after 3 of 5 epochs gives
  // the uninterrupted run.
  const Dataset train = regression(11, 5, 2, 5, 3);
  const std::string dir = temp_dir();
  Session straight(Opt::kAdam, 5, 4);
  const std::vector<double> all = losses_of(straight.tr->fit(train, nullptr));
  std::vector<double> resumed;
  {
    Session first(Opt::kAdam, 3, 4, 0, dir + "/ckpt.safetensors");
    resumed = losses_of(first.tr->fit(train, nullptr));
  }
  Session second(Opt::kAdam, 2, 4);
  second.tr->load_checkpoint(dir + "/ckpt.safetensors");
  const std::vector<double> rest = losses_of(second.tr->fit(train, nullptr));
  resumed.insert(resumed.end(), rest.begin(), rest.end());
  EXPECT_EQ(resumed, all);
  EXPECT_EQ(second.m.params(), straight.m.params());
  // The directory holds the checkpoint and no temporary file.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST(Resume, ModelPartLoadsAsAPlainCheckpoint) {
  const std::string path = temp_dir() + "/training.safetensors";
  Session s(Opt::kAdam, 1, 5);
  s.tr->fit(regression(8, 4, 2, 4, 5), nullptr);
  s.tr->save_checkpoint(path);
  // The file: PyTorch's rnn./fc. names plus optimizer.<group>.<torch's state name>.
  std::map<std::string, std::string> meta;
  const TensorMap file = load_safetensors(path, &meta);
  EXPECT_TRUE(file.count("rnn.weight_hh_l0") && file.count("fc.bias"));
  EXPECT_TRUE(file.count("optimizer.0.exp_avg") && file.count("optimizer.1.exp_avg_sq"));
  EXPECT_EQ(meta.at("optimizer"), "adam");
  EXPECT_EQ(meta.at("optimizer_steps"), "2");  // 8 examples in batches of 4
  Model other(2, 6, 1, 77);
  load_checkpoint(path, other.rnn, other.fc);  // the optimizer's tensors are ignored
  EXPECT_EQ(other.params(), s.m.params());
}

TEST(Resume, LoadIsAllOrNothing) {
  const std::string dir = temp_dir();
  Session s(Opt::kAdam, 1, 5);
  s.tr->fit(regression(8, 4, 2, 4, 5), nullptr);
  s.tr->save_checkpoint(dir + "/adam.safetensors");
  save_checkpoint(dir + "/model.safetensors", s.m.rnn, s.m.fc);

  Session sgd(Opt::kSgdMomentum, 1, 6);
  const std::vector<float> before = sgd.m.params();
  try {
    sgd.tr->load_checkpoint(dir + "/adam.safetensors");
    ADD_FAILURE() << "an Adam checkpoint loaded into an SGD trainer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'adam' optimizer"), std::string::npos) << e.what();
  }
  try {
    sgd.tr->load_checkpoint(dir + "/model.safetensors");
    ADD_FAILURE() << "a model-only checkpoint loaded as a training checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metadata field"), std::string::npos) << e.what();
  }
  EXPECT_EQ(sgd.m.params(), before);  // nothing changed
  EXPECT_EQ(sgd.tr->epochs_done(), 0);
  EXPECT_EQ(sgd.opt->step_count(), 0);
}

TEST(Faults, SaveRefusesNonFiniteAndKeepsThePreviousFile) {
  const std::string dir = temp_dir();
  Session s(Opt::kAdam, 1, 5);
  s.tr->fit(regression(8, 4, 2, 4, 5), nullptr);
  const std::string path = dir + "/training.safetensors", model = dir + "/model.safetensors";
  s.tr->save_checkpoint(path);
  save_checkpoint(model, s.m.rnn, s.m.fc);
  const std::string good = file_bytes(path), good_model = file_bytes(model);
  Tensor bias = s.m.rnn.parameter("bias_hh_l0");  // a handle: written through its data()
  bias.data()[1] = std::numeric_limits<float>::quiet_NaN();
  for (int i = 0; i < 2; ++i) {
    try {
      if (i == 0)
        s.tr->save_checkpoint(path);
      else
        save_checkpoint(model, s.m.rnn, s.m.fc);
      ADD_FAILURE() << "a NaN was written";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'rnn.bias_hh_l0' holds a NaN or an infinity"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(file_bytes(path), good);
  EXPECT_EQ(file_bytes(model), good_model);
}

// Trains 2 good epochs writing `path` after each, then returns the trainer for the faulty part.
struct AfterTwoGoodEpochs {
  std::string dir = temp_dir(), path = dir + "/training.safetensors";
  Session s{Opt::kSgdMomentum, 2, 8, 0, path};
  std::vector<float> good_params;
  std::string good_bytes;
  AfterTwoGoodEpochs(const Dataset& good) {
    const FitResult r = s.tr->fit(good, nullptr);
    EXPECT_FALSE(r.stopped) << r.message;
    good_params = s.m.params();
    good_bytes = file_bytes(path);
  }
  // The file on disk is still epoch 2's: same bytes, finite, loadable, epoch 2's weights.
  void expect_last_good_checkpoint() {
    EXPECT_EQ(file_bytes(path), good_bytes);
    const TensorMap file = load_safetensors(path);
    EXPECT_TRUE(all_finite(file));
    Session fresh(Opt::kSgdMomentum, 1, 50);
    EXPECT_EQ(fresh.tr->load_checkpoint(path).at("epoch"), "2");
    EXPECT_EQ(fresh.m.params(), good_params);
  }
};

void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& p : parts)
    EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

TEST(Faults, HugeLearningRateStopsWithStepTensorAndCheckpoint) {
  const Dataset d = regression(11, 5, 2, 5, 6);
  AfterTwoGoodEpochs run(d);
  run.s.opt->set_learning_rate(1e30f);  // the first step of epoch 3 throws the weights to ~1e29
  const FitResult r = run.s.tr->fit(d, nullptr);
  ASSERT_TRUE(r.stopped);
  EXPECT_TRUE(r.epochs.empty());  // no good epoch after the fault
  EXPECT_EQ(r.fault_epoch, 3);
  EXPECT_GE(r.fault_step, 2);  // step 1's gradients were computed with epoch 2's weights
  EXPECT_FALSE(r.fault_tensor.empty());
  expect_mentions(r.message, {"epoch 3, step " + std::to_string(r.fault_step), r.fault_tensor,
                              "not finite", "'" + run.path + "' (after epoch 2)"});
  EXPECT_EQ(run.s.tr->epochs_done(), 2);
  run.expect_last_good_checkpoint();
}

TEST(Faults, OverflowingGradientIsNamedWhileTheLossIsFinite) {
  AfterTwoGoodEpochs run(regression(11, 5, 2, 5, 6));
  // Injected: input feature 0 near float's maximum, the input weights small enough (3e-38,
  // still normal floats) that the forward stays finite and unsaturated, targets of 1e6: the
  // loss (~1e12) is finite, but d loss / d weight_ih = sum grad_pre * x (~1e4 * 1e38) is not.
  Dataset bad = regression(4, 5, 2, 5, 7);
  for (size_t i = 0; i < bad.inputs.size(); ++i) bad.inputs[i] = i % 2 == 0 ? 1e38f : 0.0f;
  for (float& t : bad.targets) t = 1e6f;
  Tensor w_ih = run.s.m.rnn.parameter("weight_ih_l0");  // a handle onto the model's storage
  for (int64_t i = 0; i < w_ih.numel(); ++i) w_ih.data()[i] = 3e-38f;
  const FitResult r = run.s.tr->fit(bad, nullptr);
  ASSERT_TRUE(r.stopped);
  EXPECT_EQ(r.fault_epoch, 3);
  EXPECT_EQ(r.fault_step, 1);
  EXPECT_EQ(r.fault_tensor, "grad of rnn.weight_ih_l0");
  EXPECT_EQ(r.message.find("loss"), std::string::npos) << r.message;  // the loss was finite
  expect_mentions(r.message, {"epoch 3, step 1 of 1: grad of rnn.weight_ih_l0 is not finite",
                              "'" + run.path + "' (after epoch 2)"});
  run.expect_last_good_checkpoint();
}

TEST(Faults, WithoutCheckpointTheMessageSaysSo) {
  Session s(Opt::kAdam, 3, 5);
  Tensor w_ih = s.m.rnn.parameter("weight_ih_l0");  // a handle onto the model's storage
  for (int64_t i = 0; i < w_ih.numel(); ++i) w_ih.data()[i] = 3e-38f;
  Dataset bad = regression(4, 5, 2, 5, 7);
  for (size_t i = 0; i < bad.inputs.size(); ++i) bad.inputs[i] = i % 2 == 0 ? 1e38f : 0.0f;
  for (float& t : bad.targets) t = 1e6f;
  const FitResult r = s.tr->fit(bad, nullptr);
  ASSERT_TRUE(r.stopped);
  expect_mentions(r.message, {"epoch 1, step 1 of 1", "No checkpoint was written"});
}

TEST(Faults, FailedCheckpointWriteThrowsAndKeepsThePreviousOne) {
  // After epoch 1's checkpoint, a file-size limit far below the checkpoint's size (SIGXFSZ
  // ignored, so the write fails with EFBIG instead of killing the test): epoch 2's save fails.
  const std::string path = temp_dir() + "/training.safetensors";
  Session s(Opt::kAdam, 3, 5, 0, path);
  std::string epoch1;
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  auto limit = [&](const EpochResult& r) {
    if (r.epoch != 1) return;
    epoch1 = file_bytes(path);
    rlimit small = old;
    small.rlim_cur = 1024;
    setrlimit(RLIMIT_FSIZE, &small);
  };
  std::string error;
  try {
    s.tr->fit(regression(8, 4, 2, 4, 5), nullptr, limit);
  } catch (const Error& e) {
    error = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find(path), std::string::npos)
      << "fit did not throw, or not naming the file: " << error;
  ASSERT_FALSE(epoch1.empty());
  EXPECT_EQ(file_bytes(path), epoch1);
  Session fresh(Opt::kAdam, 1, 50);
  EXPECT_EQ(fresh.tr->load_checkpoint(path).at("epoch"), "1");
}

TEST(FaultsCuda, OverflowingGradientIsNamed) {
  ELMAN_SKIP_WITHOUT_CUDA();
  // The device-side flags (FirstNonFinite on CUDA) must name what the CPU names.
  Session s(Opt::kAdam, 3, 5, 0, "", Device::cuda(0));
  Tensor w_ih = s.m.rnn.parameter("weight_ih_l0");  // a handle onto the model's storage
  w_ih.copy_from(Tensor::from_vector(
      w_ih.shape(), std::vector<float>(static_cast<size_t>(w_ih.numel()), 3e-38f)));
  Dataset bad = regression(4, 5, 2, 5, 7);
  for (size_t i = 0; i < bad.inputs.size(); ++i) bad.inputs[i] = i % 2 == 0 ? 1e38f : 0.0f;
  for (float& t : bad.targets) t = 1e6f;
  const FitResult r = s.tr->fit(bad, nullptr);
  ASSERT_TRUE(r.stopped);
  EXPECT_EQ(r.fault_epoch, 1);
  EXPECT_EQ(r.fault_step, 1);
  EXPECT_EQ(r.fault_tensor, "grad of rnn.weight_ih_l0") << r.message;
}

TEST(ResumeCuda, ContinuesAsTheUninterruptedRun) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const int64_t T = 6;
  const Dataset train = regression(11, T, 2, T, 1);
  const std::string path = temp_dir() + "/training.safetensors";
  Session straight(Opt::kAdam, 4, 3, 4, "", Device::cuda(0));
  const std::vector<double> all = losses_of(straight.tr->fit(train, nullptr));
  std::vector<double> resumed;
  {
    Session first(Opt::kAdam, 2, 3, 4, "", Device::cuda(0));
    resumed = losses_of(first.tr->fit(train, nullptr));
    first.tr->save_checkpoint(path);
  }
  Session second(Opt::kAdam, 2, 99, 4, "", Device::cuda(0));
  second.tr->load_checkpoint(path);
  const std::vector<double> rest = losses_of(second.tr->fit(train, nullptr));
  resumed.insert(resumed.end(), rest.begin(), rest.end());
  ASSERT_EQ(resumed.size(), all.size());
  // The same kernels and cuBLAS calls in the same order on one device: expected bit for bit;
  // 1e-6 relative allows for a library choosing another reduction order between two handles.
  for (size_t i = 0; i < all.size(); ++i) EXPECT_NEAR(resumed[i], all[i], 1e-6 * std::fabs(all[i]));
}

}  // namespace
}  // namespace elman
