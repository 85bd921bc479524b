// Every error path of the engine core: each bad argument fails with an elman::Error that names
// the call, the argument and what was expected and given, and a failed call changes nothing.
#include <gtest/gtest.h>

#include <climits>
#include <memory>

#include "host/backend.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

// --- RNNOptions, parse_nonlinearity ---

TEST(Errors, OptionsValidateEachArgument) {
  RNNOptions good = make_options(4, 3, 2, Nonlinearity::kTanh, true, false);
  EXPECT_NO_THROW(good.validate());
  for (int64_t bad : {0, -1}) {
    RNNOptions o = good;
    o.input_size = bad;
    ELMAN_EXPECT_ERROR(o.validate(), "RNNOptions", "input_size", "positive",
                       "got " + std::to_string(bad));
    o = good;
    o.hidden_size = bad;
    ELMAN_EXPECT_ERROR(o.validate(), "RNNOptions", "hidden_size", "positive",
                       "got " + std::to_string(bad));
    o = good;
    o.num_layers = bad;
    ELMAN_EXPECT_ERROR(o.validate(), "RNNOptions", "num_layers", "positive",
                       "got " + std::to_string(bad));
    // The model refuses to be built from them too.
    Context ctx(Device::cpu());
    ELMAN_EXPECT_ERROR(RNN rnn(ctx, o), "num_layers");
  }
}

TEST(Errors, ParseNonlinearity) {
  EXPECT_EQ(parse_nonlinearity("tanh"), Nonlinearity::kTanh);
  EXPECT_EQ(parse_nonlinearity("relu"), Nonlinearity::kReLU);
  EXPECT_EQ(nonlinearity_name(Nonlinearity::kTanh), "tanh");
  EXPECT_EQ(nonlinearity_name(Nonlinearity::kReLU), "relu");
  for (const char* bad : {"sigmoid", "", "Tanh", "relu "})
    ELMAN_EXPECT_ERROR(parse_nonlinearity(bad), "nonlinearity", std::string("'") + bad + "'",
                       "'tanh'", "'relu'");
}

// --- forward / forward_train arguments ---

class ForwardErrors : public ::testing::Test {
 protected:
  ForwardErrors()
      : ctx_(Device::cpu()), rnn_(ctx_, make_options(4, 3, 2, Nonlinearity::kTanh, true, false)) {}
  Context ctx_;
  RNN rnn_;
};

TEST_F(ForwardErrors, InputShape) {
  RNNCache cache;
  // Wrong input_size: the message of DESIGN.md §3, naming the call, tensor, given and expected.
  ELMAN_EXPECT_ERROR(rnn_.forward(Tensor::zeros({5, 3, 2})),
                     "RNN::forward: input has shape [5, 3, 2], expected [T, B, 4]",
                     "input_size = 4");
  ELMAN_EXPECT_ERROR(rnn_.forward_train(Tensor::zeros({5, 3, 2}), Tensor(), cache),
                     "RNN::forward_train: input has shape [5, 3, 2], expected [T, B, 4]");
  // Neither 3-D nor unbatched 2-D [T, input_size].
  ELMAN_EXPECT_ERROR(rnn_.forward(Tensor::zeros({5, 2})),
                     "RNN::forward: input has shape [5, 2], expected unbatched [T, 4]");
  ELMAN_EXPECT_ERROR(rnn_.forward(Tensor::zeros({5, 3, 1, 4})),
                     "RNN::forward: input has shape [5, 3, 1, 4], expected [T, B, 4]");
  ELMAN_EXPECT_ERROR(rnn_.forward(Tensor::zeros({4})), "RNN::forward: input has shape [4]",
                     "expected [T, B, 4] or unbatched [T, 4]");
  // Undefined.
  ELMAN_EXPECT_ERROR(rnn_.forward(Tensor()), "RNN::forward", "input", "undefined");
  // T = 0.
  ELMAN_EXPECT_ERROR(rnn_.forward(Tensor::zeros({0, 3, 4})),
                     "RNN::forward: input has shape [0, 3, 4]", "T >= 1");
  ELMAN_EXPECT_ERROR(rnn_.forward_train(Tensor::zeros({0, 3, 4}), Tensor(), cache),
                     "RNN::forward_train", "T >= 1");
  EXPECT_FALSE(cache.valid());
}

TEST(Errors, InputShapeBatchFirst) {
  Context ctx(Device::cpu());
  RNN rnn(ctx, make_options(4, 3, 1, Nonlinearity::kTanh, false, /*batch_first=*/true));
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({3, 5, 2})),
                     "RNN::forward: input has shape [3, 5, 2], expected [B, T, 4]",
                     "batch_first = true");
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({3, 0, 4})), "[3, 0, 4]", "T >= 1");
}

TEST_F(ForwardErrors, H0Shape) {
  RNNCache cache;
  const Tensor x = Tensor::zeros({5, 3, 4});
  // Expected [num_layers * D, B, H] = [4, 3, 3].
  for (const Shape& bad : {Shape{4, 2, 3}, Shape{2, 3, 3}, Shape{4, 3, 4}, Shape{4, 3}, Shape{}}) {
    ELMAN_EXPECT_ERROR(rnn_.forward(x, Tensor::zeros(bad)),
                       "RNN::forward: h0 has shape " + shape_str(bad) + ", expected [4, 3, 3]");
    ELMAN_EXPECT_ERROR(
        rnn_.forward_train(x, Tensor::zeros(bad), cache),
        "RNN::forward_train: h0 has shape " + shape_str(bad) + ", expected [4, 3, 3]");
  }
}

// --- backward arguments ---

TEST_F(ForwardErrors, BackwardUpstreamGradientShapes) {
  RNNCache cache;
  rnn_.forward_train(Tensor::zeros({5, 3, 4}), Tensor(), cache);
  // output [5, 3, 6], h_n [4, 3, 3].
  ELMAN_EXPECT_ERROR(rnn_.backward(cache, Tensor::zeros({5, 3, 3})),
                     "RNN::backward: grad_output has shape [5, 3, 3], expected [5, 3, 6]");
  ELMAN_EXPECT_ERROR(rnn_.backward(cache, Tensor::zeros({3, 5, 6})),
                     "RNN::backward: grad_output has shape [3, 5, 6], expected [5, 3, 6]");
  ELMAN_EXPECT_ERROR(rnn_.backward(cache, Tensor(), Tensor::zeros({2, 3, 3})),
                     "RNN::backward: grad_h_n has shape [2, 3, 3], expected [4, 3, 3]");
  ELMAN_EXPECT_ERROR(rnn_.backward(cache, Tensor::zeros({5, 3, 6}), Tensor::zeros({4, 3})),
                     "RNN::backward: grad_h_n has shape [4, 3], expected [4, 3, 3]");
}

TEST_F(ForwardErrors, BackwardWithEmptyOrForeignCache) {
  RNNCache empty;
  EXPECT_FALSE(empty.valid());
  ELMAN_EXPECT_ERROR(rnn_.backward(empty, Tensor()), "RNN::backward", "cache", "no forward_train");
  RNN other(ctx_, rnn_.options(), 1);
  RNNCache foreign;
  other.forward_train(Tensor::zeros({5, 3, 4}), Tensor(), foreign);
  EXPECT_TRUE(foreign.valid());
  ELMAN_EXPECT_ERROR(rnn_.backward(foreign, Tensor()), "RNN::backward", "another model");
}

// A cache outlives its model; a new model, possibly allocated at the same address, must still
// refuse it (the check once compared addresses).
TEST_F(ForwardErrors, CacheOfADestroyedModel) {
  const RNNOptions o = make_options(4, 3, 1, Nonlinearity::kTanh, false, false);
  RNNCache stale;
  auto first = std::make_unique<RNN>(ctx_, o, 1);
  first->forward_train(Tensor::zeros({5, 3, 4}), Tensor(), stale);
  first.reset();
  auto second = std::make_unique<RNN>(ctx_, o, 1);
  ELMAN_EXPECT_ERROR(second->backward(stale, Tensor()), "RNN::backward", "another model");
}

TEST_F(ForwardErrors, UnknownParameterName) {
  ELMAN_EXPECT_ERROR(rnn_.parameter("weight_ih_l2"), "RNN::parameter", "'weight_ih_l2'",
                     "weight_ih_l0", "bias_hh_l1_reverse");
  ELMAN_EXPECT_ERROR(rnn_.grad("bias"), "RNN::grad", "'bias'");
  EXPECT_NO_THROW(rnn_.parameter("weight_hh_l1_reverse"));
  RNN no_bias(ctx_, make_options(4, 3, 1, Nonlinearity::kTanh, false, false, /*bias=*/false));
  ELMAN_EXPECT_ERROR(no_bias.parameter("bias_ih_l0"), "RNN::parameter", "'bias_ih_l0'");
}

// --- A failed call changes nothing ---

TEST_F(ForwardErrors, FailedCallsChangeNothing) {
  const Tensor x = Tensor::from_vector({5, 3, 4}, to_float(random_floats(60, 1)));
  const Tensor go = Tensor::from_vector({5, 3, 6}, to_float(random_floats(90, 2)));
  RNNCache cache;
  rnn_.forward_train(x, Tensor(), cache);
  rnn_.zero_grad();
  rnn_.backward(cache, go);
  const std::vector<float> grads = rnn_.flat_grads().to_vector();
  const std::vector<float> params = rnn_.flat_parameters().to_vector();

  // A failed forward_into leaves the caller's result tensors as they were (same storage, same
  // values) and touches no gradient.
  RNNOutput result{Tensor::full({5, 3, 6}, 7.0f), Tensor::full({4, 3, 3}, 8.0f)};
  const float* storage = result.output.data();
  EXPECT_THROW(rnn_.forward_into(Tensor::zeros({5, 3, 2}), Tensor(), result), Error);
  EXPECT_THROW(rnn_.forward_into(x, Tensor::zeros({1, 3, 3}), result), Error);
  EXPECT_EQ(result.output.data(), storage);
  EXPECT_TRUE(identical("output", result.output.to_vector(), std::vector<float>(90, 7.0f)));
  EXPECT_TRUE(identical("h_n", result.h_n.to_vector(), std::vector<float>(36, 8.0f)));

  // A failed forward_train leaves the cache holding the previous forward: backward still works
  // and gives what it gave before.
  EXPECT_THROW(rnn_.forward_train_into(Tensor::zeros({0, 3, 4}), Tensor(), cache, result), Error);
  EXPECT_THROW(rnn_.forward_train_into(x, Tensor::zeros({4, 2, 3}), cache, result), Error);
  EXPECT_TRUE(identical("output", result.output.to_vector(), std::vector<float>(90, 7.0f)));
  EXPECT_TRUE(cache.valid());

  // A failed backward adds nothing to the gradients and writes no result.
  RNNInputGrads g{Tensor::full({5, 3, 4}, 9.0f), Tensor::full({4, 3, 3}, 9.0f)};
  EXPECT_THROW(rnn_.backward_into(cache, Tensor::zeros({5, 3, 5}), Tensor(), g), Error);
  EXPECT_THROW(rnn_.backward_into(cache, go, Tensor::zeros({4, 3, 4}), g), Error);
  RNNCache empty;
  EXPECT_THROW(rnn_.backward_into(empty, go, Tensor(), g), Error);
  EXPECT_TRUE(identical("grad_input", g.grad_input.to_vector(), std::vector<float>(60, 9.0f)));
  EXPECT_TRUE(identical("grad_h0", g.grad_h0.to_vector(), std::vector<float>(36, 9.0f)));
  EXPECT_TRUE(identical("parameter gradients", rnn_.flat_grads().to_vector(), grads));
  EXPECT_TRUE(identical("parameters", rnn_.flat_parameters().to_vector(), params));

  // And the cache still gives the same backward as before the failures.
  rnn_.zero_grad();
  rnn_.backward_into(cache, go, Tensor(), g);
  EXPECT_TRUE(
      identical("parameter gradients after failures", rnn_.flat_grads().to_vector(), grads));
}

// --- Tensor ---

TEST(Errors, TensorFromVectorSizeMismatch) {
  ELMAN_EXPECT_ERROR(Tensor::from_vector({2, 2}, {1, 2, 3}), "Tensor::from_vector", "3 values",
                     "[2, 2]", "4 expected");
  ELMAN_EXPECT_ERROR(Tensor::from_vector({2}, {1, 2, 3}), "Tensor::from_vector", "3 values", "[2]");
  EXPECT_NO_THROW(Tensor::from_vector({0, 3}, {}));
}

TEST(Errors, TensorViewOutOfRange) {
  const Tensor t = Tensor::zeros({2, 3});
  ELMAN_EXPECT_ERROR(t.view({7}), "Tensor::view", "[7]", "offset 0", "[2, 3]");
  ELMAN_EXPECT_ERROR(t.view({2, 2}, 3), "Tensor::view", "[2, 2]", "offset 3", "does not fit");
  ELMAN_EXPECT_ERROR(t.view({1}, -1), "Tensor::view", "offset -1");
  ELMAN_EXPECT_ERROR(t.reshape({4, 2}), "Tensor::view", "[4, 2]");
  ELMAN_EXPECT_ERROR(Tensor().view({1}), "Tensor::view", "undefined");
  // In range: a view shares storage.
  Tensor v = t.view({2, 2}, 2);
  v.fill(5.0f);
  EXPECT_TRUE(identical("view writes through", t.to_vector(), {0, 0, 5, 5, 5, 5}));
}

TEST(Errors, TensorOtherMisuse) {
  const Tensor t = Tensor::zeros({2, 3});
  ELMAN_EXPECT_ERROR(t.size(2), "Tensor::size", "dimension 2", "[2, 3]");
  ELMAN_EXPECT_ERROR(t.size(-3), "Tensor::size", "dimension -3");
  EXPECT_EQ(t.size(-1), 3);
  ELMAN_EXPECT_ERROR(Tensor::zeros({2, -1}), "negative", "[2, -1]");
  Tensor u = Tensor::zeros({3, 2});
  ELMAN_EXPECT_ERROR(u.copy_from(t), "Tensor::copy_from", "[2, 3]", "expected [3, 2]");
  Tensor undefined;
  ELMAN_EXPECT_ERROR(undefined.fill(1.0f), "Tensor::fill", "undefined");
  ELMAN_EXPECT_ERROR(undefined.copy_from(t), "Tensor::copy_from", "undefined");
}

// --- GEMM arguments (BLAS's xerbla rules), on the checker and through a backend ---

TEST(Errors, CheckGemmArgsEachArgument) {
  using detail::check_gemm_args;
  using detail::Trans;
  const Trans N = Trans::kN, T = Trans::kT;
  // m = 4, n = 3, k = 5; op(A) 4 x 5, op(B) 5 x 3, C 4 x 3.
  EXPECT_NO_THROW(check_gemm_args(N, N, 4, 3, 5, 4, 5, 4));
  EXPECT_NO_THROW(check_gemm_args(T, T, 4, 3, 5, 5, 3, 4));
  EXPECT_NO_THROW(check_gemm_args(N, N, 0, 0, 0, 1, 1, 1));
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, -1, 3, 5, 4, 5, 4), "gemm", "m = -1");
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 4, -1, 5, 4, 5, 4), "gemm", "n = -1");
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 4, 3, -1, 4, 5, 4), "gemm", "k = -1");
  // lda >= rows of A: m without transpose, k with.
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 4, 3, 5, 3, 5, 4), "gemm", "lda = 3", ">= 4");
  ELMAN_EXPECT_ERROR(check_gemm_args(T, N, 4, 3, 5, 4, 5, 4), "gemm", "lda = 4", ">= 5");
  // ldb >= rows of B: k without transpose, n with.
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 4, 3, 5, 4, 4, 4), "gemm", "ldb = 4", ">= 5");
  ELMAN_EXPECT_ERROR(check_gemm_args(N, T, 4, 3, 5, 4, 2, 4), "gemm", "ldb = 2", ">= 3");
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 4, 3, 5, 4, 5, 3), "gemm", "ldc = 3", ">= 4");
  // Leading dimensions are at least 1 even for empty matrices.
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 0, 3, 5, 0, 5, 1), "gemm", "lda = 0", ">= 1");
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, 0, 0, 0, 1, 1, 0), "gemm", "ldc = 0", ">= 1");
  // BLAS takes 32-bit ints.
  const int64_t big = static_cast<int64_t>(INT_MAX) + 1;
  ELMAN_EXPECT_ERROR(check_gemm_args(N, N, big, 1, 1, big, 1, big), "gemm", "INT_MAX");
  // The CPU backend checks before calling BLAS.
  Context ctx(Device::cpu());
  float a[4] = {}, b[4] = {}, c[4] = {};
  ELMAN_EXPECT_ERROR(detail::backend_of(ctx).gemm(N, N, 2, 2, 2, 1.0f, a, 1, b, 2, 0.0f, c, 2),
                     "gemm", "lda = 1");
}

// --- Devices ---

TEST(Errors, CudaContextWithoutDevice) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  ELMAN_EXPECT_ERROR(Context(Device::cuda(0)), "Context", "cuda:0",
                     built_with_cuda() ? "no CUDA device" : "built without CUDA");
  ELMAN_EXPECT_ERROR(Context(Device::cuda(1)), "Context", "cuda:1");
  EXPECT_EQ(Device::best_available(), Device::cpu());
  EXPECT_FALSE(cuda_available());
  // No device memory either: an error, not a crash.
  EXPECT_THROW(Tensor::empty({4}, Device::cuda(0)), Error);
}

// A CPU-only build (ELMAN_WITH_CUDA=OFF) behaves as a machine without a GPU, and wherever a user
// asks for CUDA explicitly the error says why there is none. (Not named for the GPU check's
// filter: it has nothing to run on a GPU.)
TEST(Errors, CpuOnlyBuildRefusesGpuRequests) {
  if (built_with_cuda()) GTEST_SKIP() << "built with CUDA";
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_EQ(Device::best_available(), Device::cpu());
  ELMAN_EXPECT_ERROR(Context(Device::cuda(0)), "Context", "cuda:0", "built without CUDA",
                     "Device::cpu()");
  ELMAN_EXPECT_ERROR(Context(Device::cuda(3)), "Context", "cuda:3", "built without CUDA");
  // No CUDA tensor can exist, not even an empty one; nor can a CPU tensor be moved to one.
  ELMAN_EXPECT_ERROR(Tensor::empty({4}, Device::cuda(0)), "cuda:0", "built without CUDA");
  ELMAN_EXPECT_ERROR(Tensor::empty({0}, Device::cuda(0)), "cuda:0", "built without CUDA");
  ELMAN_EXPECT_ERROR(Tensor::zeros({2}).to(Device::cuda(0)), "built without CUDA");
  const std::vector<float> values(2, 1.0f);
  ELMAN_EXPECT_ERROR(Tensor::from_vector({2}, values, Device::cuda(0)), "built without CUDA");
  // The CPU works as before.
  Context cpu(Device::best_available());
  RNN rnn(cpu, make_options(2, 3, 1, Nonlinearity::kTanh, false, false));
  EXPECT_EQ(rnn.forward(Tensor::zeros({4, 1, 2})).output.shape(), (Shape{4, 1, 3}));
}

TEST(Errors, CudaDeviceIndexOutOfRange) {
  const int count = cuda_device_count();
  ELMAN_SKIP_WITHOUT_CUDA();
  ELMAN_EXPECT_ERROR(Context(Device::cuda(count)), "Context", "cuda:" + std::to_string(count),
                     std::to_string(count) + " CUDA device");
  ELMAN_EXPECT_ERROR(Context(Device::cuda(-1)), "Context", "cuda:-1");
}

// Out of device memory is an elman::Error naming the size, and it leaks nothing: a normal model
// works right after. hidden_size 200,000 needs 160 GB for W_hh alone, more than any GPU here.
TEST(Errors, CudaModelTooLargeForTheDevice) {
  ELMAN_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  const RNNOptions huge = make_options(1, 200000, 1, Nonlinearity::kTanh, false, false);
  ELMAN_EXPECT_ERROR(RNN(ctx, huge, 1), "could not allocate", "bytes on cuda:0");
  for (int i = 0; i < 3; ++i)  // repeated: a leak would pile up
    ELMAN_EXPECT_ERROR(RNN(ctx, huge, 1), "could not allocate");
  RNN small(ctx, make_options(3, 4, 1, Nonlinearity::kTanh, false, false), 1);
  const RNNOutput out = small.forward(Tensor::zeros({2, 1, 3}, Device::cuda(0)));
  EXPECT_EQ(out.output.shape(), (Shape{2, 1, 4}));
}

// The same on the host: a CPU tensor too large for memory is an elman::Error, not bad_alloc.
TEST(Errors, TensorTooLargeForTheHost) {
  ELMAN_EXPECT_ERROR(Tensor::empty({int64_t{1} << 50}), "could not allocate", "bytes on cpu");
  EXPECT_EQ(Tensor::zeros({3}).numel(), 3);
}

TEST(Errors, StreamForCpuContext) {
  ELMAN_EXPECT_ERROR(Context(Device::cpu(), reinterpret_cast<CUstream_st*>(0x1)), "Context",
                     "stream", "CPU");
}

// A tensor on another device than the model's is refused, naming both devices.
TEST(Errors, CudaTensorOnTheWrongDevice) {
  ELMAN_SKIP_WITHOUT_CUDA();
  Context cpu(Device::cpu());
  RNN rnn(cpu, make_options(4, 3, 1, Nonlinearity::kTanh, false, false));
  ELMAN_EXPECT_ERROR(rnn.forward(Tensor::zeros({5, 2, 4}, Device::cuda(0))), "RNN::forward",
                     "input", "cuda:0", "expected cpu");
  ELMAN_EXPECT_ERROR(
      rnn.forward(Tensor::zeros({5, 2, 4}), Tensor::zeros({1, 2, 3}, Device::cuda(0))),
      "RNN::forward", "h0", "cuda:0");
  Context gpu(Device::cuda(0));
  RNN g(gpu, rnn.options());
  ELMAN_EXPECT_ERROR(g.forward(Tensor::zeros({5, 2, 4})), "RNN::forward", "input", "cpu",
                     "expected cuda:0");
  RNNCache cache;
  g.forward_train(Tensor::zeros({5, 2, 4}, Device::cuda(0)), Tensor(), cache);
  ELMAN_EXPECT_ERROR(g.backward(cache, Tensor::zeros({5, 2, 3})), "RNN::backward", "grad_output",
                     "cpu");
}

}  // namespace
}  // namespace elman::test
