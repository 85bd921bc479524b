// Choosing the recurrence's algorithm (RNN::set_algorithm, kAuto's rule), the CPU thread count
// (Context::set_num_threads), the fused recurrence's thread pool and barrier, and results that do
// not depend on how many threads split the hidden units.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>

#include "host/cpu/thread_pool.h"
#include "host/graph_key.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

TEST(Algorithm, NamesRoundTrip) {
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kStandard, Algorithm::kFused,
                      Algorithm::kFusedStep, Algorithm::kPersistent, Algorithm::kGraph})
    EXPECT_EQ(parse_algorithm(algorithm_name(a)), a);
  ELMAN_EXPECT_ERROR(parse_algorithm("cudnn"), "algorithm", "'cudnn'", "'fused-step'",
                     "'persistent'");
}

TEST(Algorithm, AutoIsFusedOnTheCpu) {
  Context ctx;
  RNN rnn(ctx, make_options(3, 4, 1, Nonlinearity::kTanh, false, false), 1);
  EXPECT_EQ(rnn.algorithm(), Algorithm::kAuto);
  EXPECT_EQ(rnn.resolved_algorithm(), Algorithm::kFused);
  rnn.set_algorithm(Algorithm::kStandard);
  EXPECT_EQ(rnn.algorithm(), Algorithm::kStandard);
  EXPECT_EQ(rnn.resolved_algorithm(), Algorithm::kStandard);
  ELMAN_EXPECT_ERROR(rnn.set_algorithm(static_cast<Algorithm>(7)), "RNN::set_algorithm", "7");
  EXPECT_EQ(rnn.algorithm(), Algorithm::kStandard) << "a failed call changes nothing";
}

TEST(Algorithm, CudaRefusesTheCpuFusedAlgorithm) {
  ELMAN_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  RNN rnn(ctx, make_options(3, 4, 1, Nonlinearity::kTanh, false, false), 1);
  EXPECT_EQ(rnn.resolved_algorithm(), Algorithm::kStandard);
  ELMAN_EXPECT_ERROR(rnn.set_algorithm(Algorithm::kFused), "RNN::set_algorithm", "'fused'",
                     "CPU only", "cuda:0");
  EXPECT_EQ(rnn.algorithm(), Algorithm::kAuto);
}

TEST(Algorithm, GraphIsCudaOnly) {
  Context ctx;
  RNN rnn(ctx, make_options(3, 4, 1, Nonlinearity::kTanh, false, false), 1);
  ELMAN_EXPECT_ERROR(rnn.set_algorithm(Algorithm::kGraph), "RNN::set_algorithm", "'graph'",
                     "CUDA only", "cpu");
}

// A captured graph replays only the exact recurrence it recorded: every pointer, size, running
// count, flag and the stream are in its key, and forward and backward keys never meet.
TEST(GraphKey, EveryFieldCounts) {
  float buffers[6] = {};
  const int64_t active[3] = {3, 2, 2};
  detail::ForwardRecurrence f{};
  f.pre = buffers;
  f.w_hh = buffers + 1;
  f.h = buffers + 2;
  f.seq_len = 3;
  f.batch = 3;
  f.hidden = 4;
  f.ld_h = 4;
  f.active = active;
  int stream_a = 0, stream_b = 0;
  const detail::GraphKey base = detail::graph_key(f, &stream_a);
  EXPECT_EQ(detail::graph_key(f, &stream_a), base);
  EXPECT_EQ(detail::GraphKeyHash()(detail::graph_key(f, &stream_a)), detail::GraphKeyHash()(base));
  EXPECT_FALSE(detail::graph_key(f, &stream_b) == base) << "stream";
  auto differs = [&](const char* what, auto change) {
    detail::ForwardRecurrence g = f;
    change(g);
    EXPECT_FALSE(detail::graph_key(g, &stream_a) == base) << what;
  };
  differs("pre", [&](detail::ForwardRecurrence& g) { g.pre = buffers + 3; });
  differs("h", [&](detail::ForwardRecurrence& g) { g.h = buffers + 3; });
  differs("h0", [&](detail::ForwardRecurrence& g) { g.h0 = buffers + 4; });
  differs("bias", [&](detail::ForwardRecurrence& g) { g.b_ih = g.b_hh = buffers + 5; });
  differs("batch", [&](detail::ForwardRecurrence& g) { g.batch = 2; });
  differs("ld_h", [&](detail::ForwardRecurrence& g) { g.ld_h = 8; });
  differs("seq_len", [&](detail::ForwardRecurrence& g) { g.seq_len = 2; });
  differs("reverse", [&](detail::ForwardRecurrence& g) { g.reverse = true; });
  differs("activation", [&](detail::ForwardRecurrence& g) { g.act = detail::Activation::kReLU; });
  const int64_t other_lengths[3] = {3, 2, 1};
  differs("running counts", [&](detail::ForwardRecurrence& g) { g.active = other_lengths; });
  const int64_t same_lengths[3] = {3, 2, 2};  // equal counts elsewhere in memory: the same graph
  detail::ForwardRecurrence g = f;
  g.active = same_lengths;
  EXPECT_EQ(detail::graph_key(g, &stream_a), base);

  detail::BackwardRecurrence b{};
  b.seq_len = 3;
  b.active = active;
  EXPECT_FALSE(detail::graph_key(b, &stream_a) == base);
  b.dy = buffers;
  detail::BackwardRecurrence c = b;
  c.delta = buffers + 1;
  EXPECT_FALSE(detail::graph_key(b, &stream_a) == detail::graph_key(c, &stream_a)) << "delta";
}

// On the CPU there is nothing to capture: each call runs the recurrence.
TEST(GraphKey, CpuBackendRunsEachCall) {
  detail::CpuBackend cpu;
  int runs = 0;
  const detail::GraphKey key{{1, 2, 3}};
  cpu.capture_or_replay(key, [&] { ++runs; });
  cpu.capture_or_replay(key, [&] { ++runs; });
  EXPECT_EQ(runs, 2);
}

TEST(Threads, ContextDefaultAndSetting) {
  if (std::getenv("ELMAN_NUM_THREADS")) GTEST_SKIP() << "ELMAN_NUM_THREADS is set";
  Context ctx;
  EXPECT_EQ(ctx.num_threads(), std::min(detail::cpu::available_cores(), 16));
  ctx.set_num_threads(3);
  EXPECT_EQ(ctx.num_threads(), 3);
  ELMAN_EXPECT_ERROR(ctx.set_num_threads(0), "set_num_threads", "n = 0", ">= 1");
  EXPECT_EQ(ctx.num_threads(), 3);
}

// ELMAN_NUM_THREADS sets the default, like OMP_NUM_THREADS; a bad value is a clear error.
TEST(Threads, EnvironmentSetsTheDefault) {
  const char* before = std::getenv("ELMAN_NUM_THREADS");
  const std::string saved = before ? before : "";
  setenv("ELMAN_NUM_THREADS", "5", 1);
  EXPECT_EQ(Context().num_threads(), 5);
  for (const char* bad : {"0", "-2", "two", "3x"}) {
    setenv("ELMAN_NUM_THREADS", bad, 1);
    ELMAN_EXPECT_ERROR(Context(), "ELMAN_NUM_THREADS", std::string("'") + bad + "'", "[1, 4096]");
  }
  if (before)
    setenv("ELMAN_NUM_THREADS", saved.c_str(), 1);
  else
    unsetenv("ELMAN_NUM_THREADS");
}

TEST(Threads, CudaContextHasNoThreadCount) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Context ctx(Device::cuda(0));
  EXPECT_EQ(ctx.num_threads(), 1);
  ELMAN_EXPECT_ERROR(ctx.set_num_threads(2), "set_num_threads", "cuda:0", "CPU setting");
}

// After a call whose threads kept waiting for a descheduled partner, the next calls run on one
// thread, then the full count is tried again; with the fallback off the count never changes.
TEST(Threads, FallBackToOneThreadWhenOversubscribed) {
  detail::CpuBackend cpu;
  cpu.set_num_threads(4);
  EXPECT_EQ(cpu.threads_for_next_call(), 4);
  cpu.report_waits(1, 100);  // an occasional slow wait: not oversubscribed
  EXPECT_EQ(cpu.threads_for_next_call(), 4);
  cpu.report_waits(30, 100);
  int single = 0;
  while (cpu.threads_for_next_call() == 1) ++single;
  EXPECT_EQ(single, 64);
  EXPECT_EQ(cpu.threads_for_next_call(), 4);
  cpu.set_adapt_to_load(false);
  cpu.report_waits(100, 100);
  EXPECT_EQ(cpu.threads_for_next_call(), 4);
}

// Every index runs exactly once per call, on as many threads as asked, call after call.
TEST(ThreadPool, RunsEachIndexOnce) {
  detail::cpu::ThreadPool pool(4);
  EXPECT_EQ(pool.size(), 4);
  for (int n = 1; n <= 4; ++n)
    for (int call = 0; call < 200; ++call) {
      std::vector<std::atomic<int>> hits(4);
      pool.run(n, [&](int i) { hits[static_cast<size_t>(i)].fetch_add(1); });
      for (int i = 0; i < 4; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), i < n ? 1 : 0);
    }
}

// The barrier separates steps: after it, every thread sees every other thread's write of the
// step before (the fused recurrence's h_t or delta_t), over many steps.
TEST(ThreadPool, BarrierSeparatesSteps) {
  constexpr int kThreads = 3, kSteps = 2000;
  detail::cpu::ThreadPool pool(kThreads);
  detail::cpu::SpinBarrier barrier(kThreads);
  std::vector<int> slot(kThreads, -1);
  std::atomic<int> wrong{0};
  pool.run(kThreads, [&](int i) {
    for (int s = 0; s < kSteps; ++s) {
      slot[static_cast<size_t>(i)] = s;
      barrier.arrive_and_wait();
      for (int j = 0; j < kThreads; ++j)
        if (slot[static_cast<size_t>(j)] != s) wrong.fetch_add(1);
      barrier.arrive_and_wait();
    }
  });
  EXPECT_EQ(wrong.load(), 0);
}

// The fused recurrence gives bitwise the same results whether one thread or several split the
// hidden units (each unit is computed by the same code in the same order), on a shape with
// every complication: bidirectional, two layers, variable lengths, h0, relu.
TEST(Threads, FusedResultsDoNotDependOnTheThreadCount) {
  const RNNOptions o = make_options(5, 37, 2, Nonlinearity::kReLU, true, false);
  const int64_t T = 6, B = 5;
  const std::vector<int64_t> lengths = {4, 6, 1, 5, 6};
  const std::vector<float> x = to_float(random_floats(T * B * 5, 1));
  const std::vector<float> h0 = to_float(random_floats(4 * B * 37, 2, 0.5));
  const std::vector<float> go = to_float(random_floats(T * B * 74, 3));
  auto run = [&](int threads) {
    Context ctx;
    ctx.set_num_threads(threads);
    auto& cpu = static_cast<detail::CpuBackend&>(detail::backend_of(ctx));
    cpu.set_min_flops_per_thread(0);
    cpu.set_adapt_to_load(false);
    RNN rnn(ctx, o, 4);
    rnn.set_algorithm(Algorithm::kFused);
    RNNCache cache;
    const RNNOutput out = rnn.forward_train(Tensor::from_vector({T, B, 5}, x),
                                            Tensor::from_vector({4, B, 37}, h0), cache, lengths);
    const RNNInputGrads g = rnn.backward(cache, Tensor::from_vector({T, B, 74}, go));
    return std::make_tuple(out.output.to_vector(), out.h_n.to_vector(), g.grad_input.to_vector(),
                           g.grad_h0.to_vector(), rnn.flat_grads().to_vector());
  };
  const auto one = run(1);
  for (int threads : {2, 3, 5}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    const auto many = run(threads);
    EXPECT_TRUE(identical("output", std::get<0>(many), std::get<0>(one)));
    EXPECT_TRUE(identical("h_n", std::get<1>(many), std::get<1>(one)));
    EXPECT_TRUE(identical("grad_input", std::get<2>(many), std::get<2>(one)));
    EXPECT_TRUE(identical("grad_h0", std::get<3>(many), std::get<3>(one)));
    EXPECT_TRUE(identical("parameter gradients", std::get<4>(many), std::get<4>(one)));
  }
}

}  // namespace
}  // namespace elman::test
