// The CUDA backend on a stream the user created (DESIGN.md §3: the user's stream is honoured):
// results match the reference, and the work is ordered on that stream, not beside it.
// Compiled as C++ with CUDA's runtime header (the test needs cudaStreamCreate); skips without a
// GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "kernels/cuda_api.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

#define TEST_CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

// A stream owned by the test (RAII, like every resource).
class UserStream {
 public:
  UserStream() { ok_ = cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking) == cudaSuccess; }
  ~UserStream() {
    if (ok_) cudaStreamDestroy(s_);
  }
  UserStream(const UserStream&) = delete;
  UserStream& operator=(const UserStream&) = delete;
  bool ok() const { return ok_; }
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
  bool ok_ = false;
};

TEST(CudaUserStream, ResultsMatchReference) {
  ELMAN_SKIP_WITHOUT_CUDA();
  UserStream stream;
  ASSERT_TRUE(stream.ok());
  Context ctx(Device::cuda(0), stream.get());
  EXPECT_EQ(ctx.stream(), stream.get());
  const RNNOptions o = make_options(5, 12, 2, Nonlinearity::kTanh, true, true);
  RNN rnn(ctx, o, 3);
  const int64_t T = 9, B = 4;
  const Device dev = Device::cuda(0);
  const std::vector<double> x = random_floats(shape_numel(input_shape(o, T, B)), 1);
  const std::vector<double> h0 = random_floats(shape_numel(state_shape(o, B)), 2, 0.5);
  const std::vector<double> go = random_floats(shape_numel(output_shape(o, T, B)), 3);
  RNNCache cache;
  RNNOutput out{poisoned(output_shape(o, T, B), dev), poisoned(state_shape(o, B), dev)};
  rnn.forward_train_into(Tensor::from_vector(input_shape(o, T, B), to_float(x), dev),
                         Tensor::from_vector(state_shape(o, B), to_float(h0), dev), cache, out);
  RNNInputGrads g{poisoned(input_shape(o, T, B), dev), poisoned(state_shape(o, B), dev)};
  rnn.backward_into(cache, Tensor::from_vector(output_shape(o, T, B), to_float(go), dev), Tensor(),
                    g);
  ctx.synchronize();
  const ReferenceRun ref = run_reference(rnn, x, T, B, &h0, &go, nullptr);
  // float32 vs float64 (DESIGN.md §4).
  EXPECT_TRUE(close("output", out.output, ref.fwd.output, 1e-5));
  EXPECT_TRUE(close("h_n", out.h_n, ref.fwd.h_n, 1e-5));
  EXPECT_TRUE(close("grad_input", g.grad_input, ref.grads.input, 1e-4));
  EXPECT_TRUE(close("grad_h0", g.grad_h0, ref.grads.h0, 1e-4));
  EXPECT_TRUE(close("parameter gradients", rnn.flat_grads(), ref.flat_grads, 1e-4));
}

// The user's stream is held by a host function until the test releases it. A forward queued on
// that stream must not have run (its output, read on another stream, is still the poison), and
// queuing it must not wait for the stream (no hidden synchronisation on the hot path).
struct Gate {
  std::atomic<bool> open{false};
  static void CUDART_CB wait(void* self) {
    auto* gate = static_cast<Gate*>(self);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!gate->open.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

TEST(CudaUserStream, WorkIsOrderedOnTheUserStream) {
  ELMAN_SKIP_WITHOUT_CUDA();
  UserStream stream, observer;
  ASSERT_TRUE(stream.ok() && observer.ok());
  Context ctx(Device::cuda(0), stream.get());
  for (bool bidirectional : {false, true}) {
    SCOPED_TRACE(bidirectional ? "bidirectional" : "unidirectional");
    const RNNOptions o = make_options(3, 8, 2, Nonlinearity::kTanh, bidirectional, false);
    RNN rnn(ctx, o, 4);
    const int64_t T = 6, B = 2;
    const Device dev = Device::cuda(0);
    const std::vector<double> x = random_floats(shape_numel(input_shape(o, T, B)), 1);
    const Tensor input = Tensor::from_vector(input_shape(o, T, B), to_float(x), dev);
    RNNOutput out{poisoned(output_shape(o, T, B), dev), poisoned(state_shape(o, B), dev)};
    rnn.forward_into(input, Tensor(), out);  // sizes the workspace: no allocation below
    ctx.synchronize();
    out.output.fill(kNaN);  // poison again (synchronous)

    Gate gate;
    TEST_CUDA_OK(cudaLaunchHostFunc(stream.get(), &Gate::wait, &gate));
    const auto start = std::chrono::steady_clock::now();
    rnn.forward_into(input, Tensor(), out);
    const double queued_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(queued_s, 5.0) << "forward_into waited for the held stream: it synchronises";
    // Read the output on another stream while the user's stream is still held.
    std::vector<float> early(static_cast<size_t>(out.output.numel()));
    TEST_CUDA_OK(cudaMemcpyAsync(early.data(), out.output.data(), early.size() * sizeof(float),
                                 cudaMemcpyDeviceToHost, observer.get()));
    TEST_CUDA_OK(cudaStreamSynchronize(observer.get()));
    gate.open = true;
    ctx.synchronize();
    size_t written_early = 0;
    for (float v : early) written_early += std::isnan(v) ? 0 : 1;
    EXPECT_EQ(written_early, 0u) << "output was written before the user's stream ran";
    const ReferenceRun ref = run_reference(rnn, x, T, B, nullptr, nullptr, nullptr);
    EXPECT_TRUE(close("output", out.output, ref.fwd.output, 1e-5));  // float32, §4
  }
}

// Every CUDA entry point makes its context's device current and gives the caller's back: a user
// who made another device current keeps it, and the model still runs on its own device. An index
// that does not exist is an error naming it.
TEST(CudaDevice, EntryPointsUseTheContextsDeviceAndRestoreTheCallers) {
  const int count = cuda_device_count();
  ELMAN_SKIP_WITHOUT_CUDA();
  ELMAN_EXPECT_ERROR({ const detail::CudaDeviceScope scope(count); },
                     "cuda:" + std::to_string(count));
  const int model_device = count - 1;  // another device than the caller's, where there are two
  TEST_CUDA_OK(cudaSetDevice(0));
  Context ctx(Device::cuda(model_device));
  const RNNOptions o = make_options(3, 8, 1, Nonlinearity::kTanh, true, false);
  RNN rnn(ctx, o, 2);
  const int64_t T = 5, B = 3;
  const Device dev = Device::cuda(model_device);
  const std::vector<double> x = random_floats(shape_numel(input_shape(o, T, B)), 1);
  const std::vector<int64_t> lengths = {5, 2, 4};  // uploads a permutation and the lengths too
  RNNOutput out{poisoned(output_shape(o, T, B), dev), poisoned(state_shape(o, B), dev)};
  TEST_CUDA_OK(cudaSetDevice(0));
  rnn.forward_into(Tensor::from_vector(input_shape(o, T, B), to_float(x), dev), Tensor(), out,
                   lengths);
  int current = -1;
  TEST_CUDA_OK(cudaGetDevice(&current));
  EXPECT_EQ(current, 0) << "a call left the model's device current";
  const auto w = reference::weights_from_flat<double>(o, rnn.flat_parameters().to_vector());
  const auto fwd = reference::forward<double>(o, w, x, T, B, nullptr, &lengths);
  EXPECT_TRUE(close("output", out.output, fwd.output, 1e-5));  // float32, DESIGN.md §4
  if (count < 2) std::cout << "(one CUDA device: the model's device is also the caller's)\n";
}

}  // namespace
}  // namespace elman::test
