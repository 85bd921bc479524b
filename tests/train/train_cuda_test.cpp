// The training functors on CUDA against the same functors on the CPU (loss + gradient,
// optimizer updates, clipping, gathers, the Linear head, the embedding), and a whole training run
// on both devices giving the same losses. Skipped, visibly, without a CUDA device or CUDA in the
// build.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cuda_skip.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::random_floats;

double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// The embedding's lookup and its column-ordered scatter-add are the same float operations in
// the same order on both devices: bitwise equal, repeated ids and the padding row included.
TEST(TrainCuda, EmbeddingMatchesCpuBitwise) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const int64_t V = 37, E = 19, B = 6, T = 11;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < B * T; ++i) ids.push_back((i * 7 + 3) % V);
  const auto grad = random_floats(B * T * E, 5);
  std::vector<float> out[2], weight_grad[2];
  for (int d = 0; d < 2; ++d) {
    const Device dev = d == 0 ? Device::cpu() : Device::cuda(0);
    Context ctx(dev);
    Embedding emb(ctx, V, E, 3, 17);
    const IndexTensor x = IndexTensor::from_vector({B, T}, ids, dev);
    out[d] = emb.forward(x).to_vector();
    emb.backward(x, Tensor::from_vector({B, T, E}, grad, dev));
    emb.backward(x, Tensor::from_vector({B, T, E}, grad, dev));  // accumulates
    weight_grad[d] = emb.grad("weight").to_vector();
  }
  EXPECT_EQ(out[1], out[0]);
  EXPECT_EQ(weight_grad[1], weight_grad[0]);
}

TEST(TrainCuda, LossesMatchCpu) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const int64_t rows = 64, classes = 33;
  const auto z = random_floats(rows * classes, 1, 4.0);
  std::vector<int64_t> t;
  for (int64_t r = 0; r < rows; ++r) t.push_back((r * 13) % classes);
  std::vector<float> results[2][2];  // [device][grad, loss]
  for (int d = 0; d < 2; ++d) {
    const Device dev = d == 0 ? Device::cpu() : Device::cuda(0);
    Context ctx(dev);
    CrossEntropyLoss ce;
    MSELoss mse;
    Tensor grad, grad2, sum = Tensor::zeros({1}, dev);
    ce.forward_backward(ctx, Tensor::from_vector({rows, classes}, z, dev),
                        IndexTensor::from_vector({rows}, t, dev), grad, &sum);
    mse.forward_backward(ctx, Tensor::from_vector({rows, classes}, z, dev),
                         Tensor::from_vector({rows, classes}, z, dev).view({rows, classes}), grad2,
                         &sum);
    results[d][0] = grad.to_vector();
    results[d][1] = sum.to_vector();
  }
  // Same float formulas; the GPU's expf/logf differ from glibc's by an ulp or two.
  EXPECT_LT(max_rel(results[1][0], results[0][0]), 1e-5);
  EXPECT_LT(max_rel(results[1][1], results[0][1]), 1e-5);
}

TEST(TrainCuda, OptimizersAndClippingMatchCpu) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const int64_t n = 1000;
  const auto p0 = random_floats(n, 2), g0 = random_floats(n, 3, 5.0);
  std::vector<float> results[2];
  for (int d = 0; d < 2; ++d) {
    const Device dev = d == 0 ? Device::cpu() : Device::cuda(0);
    Context ctx(dev);
    Tensor p = Tensor::from_vector({n}, p0, dev), g = Tensor::from_vector({n}, g0, dev);
    Tensor p2 = Tensor::from_vector({n}, p0, dev), g2 = Tensor::from_vector({n}, g0, dev);
    AdamW adamw(ctx, AdamWOptions{});
    adamw.add_parameters(p, g);
    SGDOptions so;
    so.lr = 0.1f;
    so.momentum = 0.9f;
    so.nesterov = true;
    SGD sgd(ctx, so);
    sgd.add_parameters(p2, g2);
    GradNormClipper clip(ctx, 1.0f);
    for (int s = 0; s < 3; ++s) {
      clip.clip({g, g2});
      adamw.step();
      sgd.step();
    }
    results[d] = p.to_vector();
    const auto q = p2.to_vector();
    results[d].insert(results[d].end(), q.begin(), q.end());
  }
  // Element-wise float updates; the clip norm is a reduction whose order differs (cuBLAS vs
  // OpenBLAS), ~1e-7 relative.
  EXPECT_LT(max_rel(results[1], results[0]), 1e-5);
}

TEST(TrainCuda, TrainingRunMatchesCpu) {
  ELMAN_SKIP_WITHOUT_CUDA();
  std::vector<double> losses[2];
  std::vector<float> params[2];
  for (int d = 0; d < 2; ++d) {
    const Device dev = d == 0 ? Device::cpu() : Device::cuda(0);
    Context ctx(dev);
    RNNOptions ro;
    ro.input_size = 5;
    ro.hidden_size = 16;
    ro.batch_first = true;
    RNN rnn(ctx, ro, 1);
    Linear fc(ctx, 16, 5, 2);
    Adam opt(ctx, AdamOptions{0.01f});
    opt.add_parameters(rnn.flat_parameters(), rnn.flat_grads());
    opt.add_parameters(fc.flat_parameters(), fc.flat_grads());
    TrainerOptions o;
    o.epochs = 3;
    o.batch_size = 8;
    o.clip_norm = 1.0f;
    o.head = HeadMode::kEveryStep;
    o.loss = LossType::kCrossEntropy;
    Trainer tr(rnn, fc, opt, o);
    const Dataset data = train_test::token_data(30, 6, 5, 5, HeadMode::kEveryStep, 3);
    for (const auto& r : tr.fit(data, nullptr).epochs) losses[d].push_back(r.train_loss);
    params[d] = rnn.flat_parameters().to_vector();
  }
  ASSERT_EQ(losses[0].size(), losses[1].size());
  for (size_t e = 0; e < losses[0].size(); ++e)
    // Different GEMM summation orders over 3 epochs of Adam: agreement to ~1e-4 relative.
    EXPECT_NEAR(losses[1][e], losses[0][e], 1e-3 * std::fabs(losses[0][e])) << "epoch " << e + 1;
  EXPECT_LT(max_rel(params[1], params[0]), 1e-3);
}

}  // namespace
}  // namespace elman
