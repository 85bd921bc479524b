// The block-level kernel framework: the CPU launcher's order of blocks, threads and phases, the
// plans of the GPU recurrences and their limits, and that the CPU launcher really runs the
// kernel body (a wrong partition or a missing barrier in a test-only variant is caught).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/recurrence_kernels.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

using detail::Barrier;
using detail::BlockThread;

// Records which (phase, block, thread) ran, in order: phases 0 and 1 are separated by a block
// barrier, 1 and 2 by a grid barrier.
struct OrderKernel {
  int blocks = 2, threads = 2;
  std::vector<std::string>* log;
  int64_t shared_floats() const { return 1; }
  int phases() const { return 3; }
  Barrier barrier_after(int p) const { return p == 1 ? Barrier::kGrid : Barrier::kBlock; }
  void run_phase(int p, const BlockThread& at, float* shared) const {
    if (p == 0 && at.thread == 0) {
      EXPECT_TRUE(std::isnan(*shared)) << "shared memory starts poisoned";
    }
    *shared = 1.0f;
    log->push_back(std::to_string(p) + std::to_string(at.block) + std::to_string(at.thread));
  }
};

TEST(BlockKernel, CpuLauncherRunsPhasesInOrderUpToEachGridBarrier) {
  std::vector<std::string> log;
  detail::run_blocks_on_cpu(OrderKernel{2, 2, &log});
  // Up to the grid barrier each block runs its phases in turn; after it, the next phase.
  const std::vector<std::string> expected = {"000", "001", "100", "101", "010", "011",
                                             "110", "111", "200", "201", "210", "211"};
  EXPECT_EQ(log, expected);
}

TEST(BlockKernel, PlanForTheH200) {
  const detail::GpuLimits& gpu = detail::GpuLimits::kH200;
  const detail::RecurrencePlan p = detail::plan_recurrence(8, 256, gpu, true);
  EXPECT_TRUE(p.fits);
  EXPECT_EQ(p.cols, 2);  // 256 units over 132 SMs
  EXPECT_EQ(p.blocks, 128);
  EXPECT_EQ(p.splits, 16);  // 256 threads over 16 dot products
  EXPECT_EQ(p.shared_floats, 2 * 256 + 8 * 256 + 16 * 16);
  // H = 1: one block, one column; every thread's split capped at H.
  const detail::RecurrencePlan one = detail::plan_recurrence(1, 1, gpu, true);
  EXPECT_EQ(one.blocks, 1);
  EXPECT_EQ(one.splits, 1);
  // The limits: the weights slice plus the B rows of h must fit in 227 KB.
  EXPECT_TRUE(detail::plan_recurrence(32, 1024, gpu, true).fits);
  EXPECT_FALSE(detail::plan_recurrence(64, 1024, gpu, true).fits);
  EXPECT_TRUE(detail::plan_recurrence(8, 2048, gpu, true).fits);
  EXPECT_FALSE(detail::plan_recurrence(16, 2048, gpu, true).fits);
  EXPECT_TRUE(detail::plan_recurrence(16, 2048, gpu, false).fits);  // weights from L2
}

TEST(BlockKernel, GpuAlgorithmsAreCudaOnlyForUsers) {
  Context ctx;
  RNN rnn(ctx, make_options(3, 4, 1, Nonlinearity::kTanh, false, false), 1);
  ELMAN_EXPECT_ERROR(rnn.set_algorithm(Algorithm::kPersistent), "RNN::set_algorithm",
                     "'persistent'", "CUDA only", "cpu");
  ELMAN_EXPECT_ERROR(rnn.set_algorithm(Algorithm::kFusedStep), "RNN::set_algorithm", "'fused-step'",
                     "CUDA only");
  EXPECT_EQ(rnn.algorithm(), Algorithm::kAuto);
}

// A forward recurrence of T steps, B rows, H units (full lengths, h0, bias), small enough to
// check against plain double loops.
struct SmallForward {
  static constexpr int64_t T = 4, B = 3, H = 7;
  std::vector<float> pre, w, b_ih, b_hh, h0, h;
  std::vector<int32_t> active = std::vector<int32_t>(T, B);
  std::vector<double> expected;

  SmallForward() {
    pre = to_float(random_floats(T * B * H, 11));
    w = to_float(random_floats(H * H, 12, 0.5));
    b_ih = to_float(random_floats(H, 13));
    b_hh = to_float(random_floats(H, 14));
    h0 = to_float(random_floats(B * H, 15));
    h.assign(static_cast<size_t>(T * B * H), kNaN);
    std::vector<double> prev(h0.begin(), h0.end());
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> next(static_cast<size_t>(B * H));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) {
          double a = double(pre[size_t(t * B * H + b * H + j)]) + b_ih[size_t(j)] + b_hh[size_t(j)];
          for (int64_t k = 0; k < H; ++k)
            a += double(w[size_t(j * H + k)]) * prev[size_t(b * H + k)];
          next[size_t(b * H + j)] = std::tanh(a);
        }
      expected.insert(expected.end(), next.begin(), next.end());
      prev = next;
    }
  }
  // The persistent forward kernel over all T steps, planned for 3 SMs of 32 threads (blocks of
  // 3, 3 and 1 columns, each dot product split among 3 threads).
  detail::ForwardRecurrenceKernel kernel() {
    const detail::RecurrencePlan plan = detail::plan_recurrence(B, H, {3, 32, 1 << 20}, true);
    const detail::RecurrenceLaunch all_steps{active.data(), T,           detail::Activation::kTanh,
                                             false,         0,           T,
                                             {plan, B, H},  plan.blocks, plan.threads};
    return {{all_steps}, pre.data(), w.data(), b_ih.data(), b_hh.data(), h0.data(), h.data(), H};
  }
  std::vector<double> result() const { return to_double(h); }
};

// Runs K's phases as given, except that the barriers after the phases `dropped` says are left
// out: the phases on either side run as one, thread by thread.
template <typename K, typename Dropped>
struct WithoutBarriers {
  K k;
  Dropped dropped;
  int blocks, threads;
  std::vector<int> starts;  // the first phase of K in each merged phase

  WithoutBarriers(const K& kernel, Dropped d)
      : k(kernel), dropped(d), blocks(kernel.blocks), threads(kernel.threads) {
    for (int p = 0; p < k.phases(); ++p)
      if (p == 0 || !dropped(p - 1)) starts.push_back(p);
  }
  int64_t shared_floats() const { return k.shared_floats(); }
  int phases() const { return static_cast<int>(starts.size()); }
  int end_of(int q) const { return q + 1 < phases() ? starts[size_t(q + 1)] : k.phases(); }
  Barrier barrier_after(int q) const { return k.barrier_after(end_of(q) - 1); }
  void run_phase(int q, const BlockThread& at, float* shared) const {
    for (int p = starts[size_t(q)]; p < end_of(q); ++p) k.run_phase(p, at, shared);
  }
};
template <typename K, typename Dropped>
WithoutBarriers<K, Dropped> without_barriers(const K& k, Dropped d) {
  return WithoutBarriers<K, Dropped>(k, d);
}

// float32 with sums of 7 terms against double: 1e-5 as for the backends (DESIGN.md §4).
constexpr double kTol = 1e-5;

TEST(BlockKernel, CpuLauncherRunsTheForwardBody) {
  SmallForward f;
  detail::run_blocks_on_cpu(f.kernel());
  EXPECT_TRUE(close("h", f.result(), f.expected, kTol));
}

TEST(BlockKernel, WrongPartitionIsCaught) {
  SmallForward f;
  detail::ForwardRecurrenceKernel k = f.kernel();
  k.work.plan.cols -= 1;  // blocks of 2, 2 and 2 columns: unit 6 is never computed
  detail::run_blocks_on_cpu(k);
  EXPECT_FALSE(close("h", f.result(), f.expected, kTol));
}

TEST(BlockKernel, MissingBlockBarrierIsCaught) {
  SmallForward f;
  // Each thread stages its part of h_{t-1} and at once computes products that read other
  // threads' parts, not yet staged (shared memory still NaN at the first step).
  const detail::ForwardRecurrenceKernel k = f.kernel();
  detail::run_blocks_on_cpu(without_barriers(k, [&](int p) { return p >= 1 && (p - 1) % 3 == 0; }));
  EXPECT_FALSE(close("h", f.result(), f.expected, kTol));
}

TEST(BlockKernel, MissingGridBarrierIsCaught) {
  SmallForward f;
  // Block barriers only: block 0 runs every step before block 1 has written its units of h_t.
  struct BlockBarriersOnly : detail::ForwardRecurrenceKernel {
    Barrier barrier_after(int) const { return Barrier::kBlock; }
  };
  detail::run_blocks_on_cpu(BlockBarriersOnly{f.kernel()});
  EXPECT_FALSE(close("h", f.result(), f.expected, kTol));
}

// Shapes beyond the simulated GPU's shared memory run the standard recurrence: still correct.
TEST(BlockKernel, ShapesBeyondTheLimitsFallBack) {
  const RNNOptions o = make_options(3, 9, 1, Nonlinearity::kTanh, false, false);
  const int64_t T = 3, B = 2;
  ASSERT_FALSE(detail::plan_recurrence(B, 9, {2, 32, 64}, false).fits);
  Context ctx;
  static_cast<detail::CpuBackend&>(detail::backend_of(ctx)).set_simulated_gpu({2, 32, 64});
  RNN rnn(ctx, o, 3);
  const std::vector<double> x = random_floats(T * B * 3, 5);
  const ReferenceRun ref = run_reference(rnn, x, T, B, nullptr, nullptr, nullptr);
  for (Algorithm a : {Algorithm::kFusedStep, Algorithm::kPersistent}) {
    rnn.set_algorithm(a);
    const RNNOutput out = rnn.forward(Tensor::from_vector({T, B, 3}, to_float(x)), Tensor());
    EXPECT_TRUE(close("output", out.output, ref.fwd.output, kTol)) << algorithm_name(a);
  }
}

}  // namespace
}  // namespace elman::test
