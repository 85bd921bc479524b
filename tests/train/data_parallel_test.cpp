// Data-parallel training over MPI, run by ctest under `mpirun -np 2` (and alone, as one rank):
// every rank trains the same model on its shards and also a one-process copy on the whole
// global batches, and the two must agree; resume, rank-count, fault and disagreement checks.
#include <elman/mpi_communicator.h>
#ifdef ELMAN_HAVE_NCCL
#include <elman/nccl_communicator.h>
#endif
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::Model;
using train_test::regression;

MpiCommunicator* world = nullptr;  // set by main

// ‖a − b‖ / ‖b‖ in double.
double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// Whether every rank holds bitwise the same values as rank 0.
bool same_on_every_rank(const std::vector<float>& v) {
  Tensor mine = Tensor::from_vector({static_cast<int64_t>(v.size())}, v);
  Tensor root = mine.clone();
  world->broadcast(root, 0);
  std::vector<int64_t> differ{root.to_vector() != v ? 1 : 0};
  world->allreduce(differ, ReduceOp::kMax);
  return differ[0] == 0;
}

// A folder every rank sees under the same name (rank 0's temporary folder).
std::string shared_folder(const std::string& name) {
  std::string dir;
  if (world->rank() == 0) {
    dir = (std::filesystem::temp_directory_path() /
           ("elman-dp-" + name + "-" + std::to_string(::getpid())))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  world->broadcast(dir, 0);
  return dir;
}

enum class Opt { kSgd, kAdam };

// One model, optimizer and trainer; `comm` null: one process.
struct Session {
  Model m;
  std::unique_ptr<Optimizer> opt;
  std::unique_ptr<Trainer> tr;
  Session(int64_t in, int64_t out, TrainerOptions o, Opt kind, Communicator* comm,
          Device dev = Device::cpu())
      : m(in, 6, out, /*seed=*/7, dev) {
    if (kind == Opt::kAdam) {
      opt = std::make_unique<Adam>(m.ctx, AdamOptions{0.01f});
    } else {
      SGDOptions so;
      so.lr = 0.05f;
      so.momentum = 0.9f;
      opt = std::make_unique<SGD>(m.ctx, so);
    }
    train_test::add_model(*opt, m);
    o.communicator = comm;
    tr = std::make_unique<Trainer>(m.rnn, m.fc, *opt, o);
  }
};

TEST(Shards, CoverTheBatchInRankOrderLargestFirst) {
  // 7 over 3 ranks: 3, 2, 2; 1 over 2 ranks: 1, 0 (an empty shard).
  EXPECT_EQ(shard_of(7, 0, 3).offset, 0);
  EXPECT_EQ(shard_of(7, 0, 3).length, 3);
  EXPECT_EQ(shard_of(7, 1, 3).offset, 3);
  EXPECT_EQ(shard_of(7, 1, 3).length, 2);
  EXPECT_EQ(shard_of(7, 2, 3).offset, 5);
  EXPECT_EQ(shard_of(7, 2, 3).length, 2);
  EXPECT_EQ(shard_of(1, 1, 2).length, 0);
  EXPECT_ERROR_WITH(shard_of(4, 2, 2), "rank 2 of 2");
}

TEST(Communicator, CollectivesGiveEveryRankTheSameResult) {
  const int r = world->rank(), p = world->size();
  Tensor t = Tensor::from_vector({3}, {1.0f * (r + 1), 2.0f, -1.0f * r});
  world->allreduce_sum(t, 0.5f);
  const float sum_ranks = p * (p + 1) / 2.0f, sum_r = p * (p - 1) / 2.0f;
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0.5f * sum_ranks, 1.0f * p, -0.5f * sum_r}));

  Tensor b = Tensor::full({4}, static_cast<float>(r));
  world->broadcast(b, p - 1);
  EXPECT_EQ(b.to_vector(), std::vector<float>(4, static_cast<float>(p - 1)));

  std::vector<int64_t> lo{r, 10 - r}, hi = lo;
  world->allreduce(lo, ReduceOp::kMin);
  world->allreduce(hi, ReduceOp::kMax);
  EXPECT_EQ(lo, (std::vector<int64_t>{0, 10 - (p - 1)}));
  EXPECT_EQ(hi, (std::vector<int64_t>{p - 1, 10}));
  std::vector<double> d{0.25 * r};
  world->allreduce(d, ReduceOp::kSum);
  EXPECT_DOUBLE_EQ(d[0], 0.25 * sum_r);

  std::string text = r == p - 1 ? std::string("from the last rank\0with a zero", 30) : "";
  world->broadcast(text, p - 1);
  EXPECT_EQ(text, std::string("from the last rank\0with a zero", 30));
  EXPECT_ERROR_WITH(world->broadcast(text, p), "root is");
  world->barrier();
}

// Tolerances: the data-parallel gradient is Σ_r (shard_r / batch) · mean_r, the one-process
// one the mean over the batch: the same sum in another order, a few float32 ulps per step,
// which SGD carries along nearly unchanged (1e-5 over a few epochs) and Adam's division by
// sqrt(v) may amplify for tiny gradients (1e-4).
struct Case {
  const char* name;
  int64_t n, batch, bptt;
  HeadMode head;
  Opt opt;
  float clip;
  double tol;
};

class MatchesOneProcess : public ::testing::TestWithParam<Case> {};

TEST_P(MatchesOneProcess, OnTheSameGlobalBatches) {
  const Case& c = GetParam();
  const int64_t T = 7, I = 3, K = 2;
  const Dataset train = regression(c.n, T, I, c.head == HeadMode::kLastStep ? K : T * K, 11);
  const Dataset val = regression(9, T, I, c.head == HeadMode::kLastStep ? K : T * K, 12);
  TrainerOptions o;
  o.epochs = 3;
  o.batch_size = c.batch;
  o.seed = 5;
  o.bptt = c.bptt;
  o.head = c.head;
  o.clip_norm = c.clip;
  Session one(I, K, o, c.opt, nullptr), dp(I, K, o, c.opt, world);
  // The ranks start from rank 0's parameters whatever their own initialisation was.
  if (world->rank() != 0) {
    std::vector<float> p = dp.m.params();
    for (float& x : p) x += 0.25f;
    dp.m.set_params(p);
  }
  const FitResult a = one.tr->fit(train, &val), b = dp.tr->fit(train, &val);
  ASSERT_FALSE(a.stopped) << a.message;
  ASSERT_FALSE(b.stopped) << b.message;
  EXPECT_LE(rel_error(dp.m.params(), one.m.params()), c.tol);
  for (size_t e = 0; e < a.epochs.size(); ++e) {
    EXPECT_NEAR(b.epochs[e].train_loss, a.epochs[e].train_loss, 1e-5 * a.epochs[e].train_loss);
    EXPECT_NEAR(b.epochs[e].val_loss, a.epochs[e].val_loss, 1e-5 * a.epochs[e].val_loss);
  }
  EXPECT_TRUE(same_on_every_rank(dp.m.params()));
  EXPECT_EQ(dp.opt->step_count(), one.opt->step_count());
}

INSTANTIATE_TEST_SUITE_P(
    DataParallel, MatchesOneProcess,
    ::testing::Values(
        // 23 examples in batches of 5: unequal shards (3 + 2), a short last batch (2 + 1).
        Case{"sgd_unequal_shards", 23, 5, 0, HeadMode::kLastStep, Opt::kSgd, 0.0f, 1e-5},
        // A last batch of one example: one rank's shard is empty.
        Case{"sgd_empty_shard", 21, 4, 0, HeadMode::kLastStep, Opt::kSgd, 0.0f, 1e-5},
        // Clipping on the global norm (0.05 clips every step), Adam.
        Case{"adam_clipped", 20, 6, 0, HeadMode::kLastStep, Opt::kAdam, 0.05f, 1e-4},
        // Truncated BPTT with an every-step head: one exchange per chunk.
        Case{"sgd_tbptt_every_step", 16, 4, 3, HeadMode::kEveryStep, Opt::kSgd, 0.0f, 1e-5}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// With an embedding: its gradient is exchanged and its weight broadcast like the others'.
TEST(DataParallelEmbedding, MatchesOneProcess) {
  const int64_t n = 19, T = 6, V = 5, E = 3, H = 6;
  const Dataset d = train_test::token_data(n, T, V, V, HeadMode::kEveryStep, 13);
  TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 4;
  o.seed = 5;
  o.head = HeadMode::kEveryStep;
  o.loss = LossType::kCrossEntropy;
  auto train = [&](Communicator* comm, uint64_t embedding_seed) {
    Context ctx;
    Embedding emb(ctx, V, E, std::nullopt, embedding_seed);
    RNN rnn(ctx, train_test::rnn_options(E, H), 7);
    Linear fc(ctx, H, V, 8);
    SGD opt(ctx, SGDOptions{0.1f});
    opt.add_parameters(emb.flat_parameters(), emb.flat_grads());
    opt.add_parameters(rnn.flat_parameters(), rnn.flat_grads());
    opt.add_parameters(fc.flat_parameters(), fc.flat_grads());
    TrainerOptions to = o;
    to.communicator = comm;
    Trainer tr(emb, rnn, fc, opt, to);
    const FitResult r = tr.fit(d, nullptr);
    EXPECT_FALSE(r.stopped) << r.message;
    std::vector<float> p = emb.flat_parameters().to_vector();
    for (const Tensor& t : {rnn.flat_parameters(), fc.flat_parameters()}) {
      const auto v = t.to_vector();
      p.insert(p.end(), v.begin(), v.end());
    }
    return p;
  };
  const std::vector<float> one = train(nullptr, 3);
  // The other ranks start from another embedding: rank 0's is broadcast over it.
  const std::vector<float> dp = train(world, world->rank() == 0 ? 3 : 4);
  EXPECT_LE(rel_error(dp, one), 1e-5);
  EXPECT_TRUE(same_on_every_rank(dp));
}

TEST(DataParallelResume, ATwoRankCheckpointResumesExactly) {
  const std::string dir = shared_folder("resume");
  const Dataset train = regression(19, 6, 2, 1, 21);
  TrainerOptions o;
  o.epochs = 4;
  o.batch_size = 4;
  o.seed = 3;
  o.clip_norm = 1.0f;
  o.checkpoint_path = dir + "/straight.safetensors";
  Session straight(2, 1, o, Opt::kAdam, world);
  ASSERT_FALSE(straight.tr->fit(train, nullptr).stopped);

  o.epochs = 2;
  o.checkpoint_path = dir + "/first.safetensors";
  Session first(2, 1, o, Opt::kAdam, world);
  ASSERT_FALSE(first.tr->fit(train, nullptr).stopped);
  // Only rank 0 wrote: the other names are not there.
  EXPECT_TRUE(std::filesystem::exists(o.checkpoint_path));
  EXPECT_EQ(read_checkpoint_metadata(o.checkpoint_path).at("ranks"), std::to_string(world->size()));

  o.checkpoint_path = dir + "/resumed.safetensors";
  Session resumed(2, 1, o, Opt::kAdam, world);
  resumed.tr->load_checkpoint(dir + "/first.safetensors");
  ASSERT_FALSE(resumed.tr->fit(train, nullptr).stopped);
  EXPECT_EQ(resumed.m.params(), straight.m.params());  // bitwise
  EXPECT_EQ(resumed.tr->epochs_done(), 4);

  // Another number of ranks is refused, naming both counts.
  if (world->size() > 1) {
    Session alone(2, 1, o, Opt::kAdam, nullptr);
    EXPECT_ERROR_WITH(alone.tr->load_checkpoint(dir + "/first.safetensors"),
                      "written by a run on " + std::to_string(world->size()) +
                          " ranks, this trainer runs on 1 rank");
  }
  world->barrier();
  if (world->rank() == 0) std::filesystem::remove_all(dir);
}

// A fault on the last rank: every rank must stop with its message (the ctest timeout and
// mpirun --timeout turn a hang into a failure).
TEST(DataParallelFaults, AnExceptionOnOneRankStopsEveryRankWithItsMessage) {
  if (world->size() == 1) GTEST_SKIP() << "needs 2 ranks (run under mpirun -np 2)";
  const int last = world->size() - 1;
  TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 4;
  o.inject_fault = {last, 3, false};
  Session run(2, 1, o, Opt::kSgd, world);
  const Dataset train = regression(12, 5, 2, 1, 31);
  try {
    run.tr->fit(train, nullptr);
    ADD_FAILURE() << "fit did not throw";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.failed_rank(), last);
    EXPECT_NE(what.find("rank " + std::to_string(last) + " of " + std::to_string(world->size()) +
                        " failed"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("injected test fault"), std::string::npos) << what;
    EXPECT_NE(what.find("epoch 1, step 3"), std::string::npos) << what;
  }
  EXPECT_EQ(run.opt->step_count(), 2);  // steps 1 and 2 were taken, 3 was not, on every rank
}

TEST(DataParallelFaults, NonFiniteGradientsOnOneRankStopEveryRankNamingIt) {
  const int last = world->size() - 1;
  TrainerOptions o;
  o.epochs = 3;
  o.batch_size = 4;
  o.inject_fault = {last, 5, true};  // epoch 2, its step 2
  Session run(2, 1, o, Opt::kSgd, world);
  const FitResult r = run.tr->fit(regression(12, 5, 2, 1, 31), nullptr);
  ASSERT_TRUE(r.stopped);
  EXPECT_EQ(r.fault_epoch, 2);
  EXPECT_EQ(r.fault_step, 2);
  EXPECT_EQ(r.fault_tensor, "grad of rnn.weight_ih_l0");
  EXPECT_EQ(r.epochs.size(), 1u);
  if (world->size() > 1) {
    EXPECT_EQ(r.fault_rank, last);
    EXPECT_NE(r.message.find("step 2 of 3 on rank " + std::to_string(last)), std::string::npos)
        << r.message;
  }
}

TEST(DataParallelFaults, AnEpochCallbackFailingOnOneRankStopsEveryRank) {
  if (world->size() == 1) GTEST_SKIP() << "needs 2 ranks (run under mpirun -np 2)";
  const int last = world->size() - 1;
  TrainerOptions o;
  o.epochs = 3;
  Session run(2, 1, o, Opt::kSgd, world);
  int64_t seen = 0;
  try {
    run.tr->fit(regression(8, 4, 2, 1, 41), nullptr, [&](const EpochResult& r) {
      seen = r.epoch;
      if (world->rank() == last) throw Error("the log file is full");
    });
    ADD_FAILURE() << "fit did not throw";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.failed_rank(), last);
    EXPECT_NE(std::string(e.what()).find("epoch 1, on_epoch): rank " + std::to_string(last)),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("the log file is full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(seen, 1);  // no rank went on to epoch 2
}

TEST(DataParallelFaults, BadDataOnOneRankStopsEveryRankBeforeTraining) {
  if (world->size() == 1) GTEST_SKIP() << "needs 2 ranks (run under mpirun -np 2)";
  const int last = world->size() - 1;
  Session run(2, 1, TrainerOptions{}, Opt::kSgd, world);
  // The last rank's data has 3 input features where the model takes 2.
  const Dataset train = regression(8, 4, world->rank() == last ? 3 : 2, 1, 41);
  try {
    run.tr->fit(train, nullptr);
    ADD_FAILURE() << "fit did not throw";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.failed_rank(), last);
    EXPECT_NE(std::string(e.what()).find("3 input features"), std::string::npos) << e.what();
  }
  EXPECT_EQ(run.opt->step_count(), 0);
}

TEST(DataParallelFaults, RanksThatDisagreeOnTheOptionsAreRefused) {
  if (world->size() == 1) GTEST_SKIP() << "needs 2 ranks (run under mpirun -np 2)";
  TrainerOptions o;
  o.batch_size = world->rank() == 0 ? 4 : 5;
  Session run(2, 1, o, Opt::kSgd, world);
  EXPECT_ERROR_WITH(run.tr->fit(regression(8, 4, 2, 1, 41), nullptr),
                    "the ranks disagree on batch_size: from 4 to 5");
}

// The GPU tests (ctest data_parallel.cuda_*: skipped, visibly, without a CUDA device).
// Every rank decides to skip alike (the same machine), so no rank is left in a collective.

// One SGD run on `dev` through `comm` against one process on the same device.
void expect_cuda_run_matches_one_process(Communicator* comm, Device dev) {
  const Dataset train = regression(23, 7, 3, 2, 11);
  TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 5;
  o.seed = 5;
  Session one(3, 2, o, Opt::kSgd, nullptr, dev), dp(3, 2, o, Opt::kSgd, comm, dev);
  ASSERT_FALSE(one.tr->fit(train, nullptr).stopped);
  ASSERT_FALSE(dp.tr->fit(train, nullptr).stopped);
  EXPECT_LE(rel_error(dp.m.params(), one.m.params()), 1e-5);  // as the CPU cases
  EXPECT_TRUE(same_on_every_rank(dp.m.params()));
}

// CUDA buffers through MpiCommunicator's host copies (several ranks may share one GPU).
TEST(DataParallelCuda, MpiThroughHostCopiesMatchesOneProcess) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  expect_cuda_run_matches_one_process(world, Device::cuda(world->rank() % cuda_device_count()));
}

#ifdef ELMAN_HAVE_NCCL
TEST(DataParallelNccl, SumsScalesBroadcastsAndTrainsOnTheDevice) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  if (cuda_device_count() < world->size())
    GTEST_SKIP() << "needs one CUDA device per rank (NCCL refuses two ranks on one GPU): "
                 << cuda_device_count() << " for " << world->size() << " ranks";
  const int r = world->rank(), p = world->size();
  const Device dev = Device::cuda(r);
  Context ctx(dev);
  NcclCommunicator nccl(ctx, *world);
  EXPECT_EQ(nccl.rank(), r);
  EXPECT_EQ(nccl.size(), p);
  Tensor t = Tensor::from_vector({3}, {1.0f * (r + 1), 2.0f, -1.0f * r}, dev);
  nccl.allreduce_sum(t, 0.5f);
  const float sum_ranks = p * (p + 1) / 2.0f, sum_r = p * (p - 1) / 2.0f;
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0.5f * sum_ranks, 1.0f * p, -0.5f * sum_r}));
  Tensor b = Tensor::full({5}, static_cast<float>(r), dev);
  nccl.broadcast(b, p - 1);
  EXPECT_EQ(b.to_vector(), std::vector<float>(5, static_cast<float>(p - 1)));
  Tensor host = Tensor::zeros({2});
  EXPECT_ERROR_WITH(nccl.allreduce_sum(host), "the buffer is on the CPU");
  expect_cuda_run_matches_one_process(&nccl, dev);
}
#else
TEST(DataParallelNccl, SumsScalesBroadcastsAndTrainsOnTheDevice) {
  GTEST_SKIP() << "built without NCCL (ELMAN_WITH_NCCL)";
}
#endif

}  // namespace
}  // namespace elman

// On the ranks other than 0: each failure, with the rank's number (rank 0 prints the report).
struct FailurePrinter : ::testing::EmptyTestEventListener {
  int rank = 0;
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "rank %d: %s:%d: failure\n%s\n", rank,
                   r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }
};

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  elman::MpiCommunicator world;
  elman::world = &world;
  // One report: the other ranks print only their failures.
  if (world.rank() != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    auto* printer = new FailurePrinter;
    printer->rank = world.rank();
    listeners.Append(printer);
  }
  const int failed = RUN_ALL_TESTS();
  std::vector<int64_t> any{failed};
  world.allreduce(any, elman::ReduceOp::kMax);
  if (world.rank() != 0 && failed) std::fprintf(stderr, "rank %d: tests failed\n", world.rank());
  return any[0] != 0 ? 1 : 0;
}
