// Truncated BPTT in the trainer: k >= T is bitwise full BPTT; k < T gives, chunk by
// chunk, the double reference's gradients with the state carried and detached at the boundaries.
#include <gtest/gtest.h>

#include <cmath>

#include "host/reference.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

using train_test::add_model;
using train_test::Model;
using train_test::regression;
using train_test::rnn_options;

// An optimizer that changes nothing and records every step's gradients (per group): the
// gradients each chunk's backward produced, seen through the trainer's real step path.
class Recorder final : public Optimizer {
 public:
  explicit Recorder(Context& ctx) : Optimizer(ctx, 0.0f) {}
  const char* kind() const override { return "recorder"; }
  std::vector<std::vector<std::vector<float>>> steps;  // [step][group] -> gradients

 private:
  int state_count() const override { return 0; }
  const char* state_name(int) const override { return ""; }
  void update(Group& g) override {
    if (static_cast<int64_t>(steps.size()) < step_count()) steps.emplace_back();
    steps.back().push_back(g.grads.to_vector());
  }
};

struct TrainRun {
  std::vector<double> losses;
  std::vector<float> params;
};

TrainRun train(const RNNOptions& ro, HeadMode head, int64_t bptt, const Dataset& d, int64_t K) {
  Model m(ro, K, 7);
  Adam opt(m.ctx, AdamOptions{0.01f});
  add_model(opt, m);
  TrainerOptions o;
  o.epochs = 3;
  o.batch_size = 3;  // 7 examples: batches of 3, 3, 1
  o.seed = 11;
  o.clip_norm = 1.0f;
  o.head = head;
  o.bptt = bptt;
  Trainer tr(m.rnn, m.fc, opt, o);
  TrainRun r;
  for (const auto& e : tr.fit(d, nullptr).epochs) r.losses.push_back(e.train_loss);
  r.params = m.rnn.flat_parameters().to_vector();
  const auto h = m.fc.flat_parameters().to_vector();
  r.params.insert(r.params.end(), h.begin(), h.end());
  return r;
}

TEST(TruncatedBptt, ChunkAtLeastTIsFullBpttBitwise) {
  const int64_t T = 6, I = 2, K = 2;
  const RNNOptions ro = rnn_options(I, 5, 2, false);
  for (HeadMode head : {HeadMode::kEveryStep, HeadMode::kLastStep}) {
    const Dataset d = regression(7, T, I, head == HeadMode::kEveryStep ? T * K : K, 3);
    const TrainRun full = train(ro, head, 0, d, K);
    ASSERT_EQ(full.losses.size(), 3u);
    for (int64_t k : {T, T + 5}) {
      const TrainRun chunked = train(ro, head, k, d, K);
      EXPECT_EQ(chunked.losses, full.losses) << "k " << k;  // the same run, bit for bit
      EXPECT_TRUE(test::identical("weights, k " + std::to_string(k), chunked.params, full.params));
    }
    // And a real truncation changes the run (so the equality above is not vacuous).
    EXPECT_NE(train(ro, head, 2, d, K).params, full.params);
  }
}

// The double reference of one chunk's gradients: forward over x[:, t0 : t0 + kc) from h0
// (nullptr: zeros), the head on every step (or the chunk's last one), MSE's mean over the
// chunk's elements, BPTT within the chunk only. Returns the RNN's flat gradient then the head's
// [weight, bias], and the chunk's h_n in *h_n.
std::vector<double> reference_chunk(const RNNOptions& ro, const reference::Weights<double>& w,
                                    const std::vector<double>& W, const std::vector<double>& bias,
                                    const Dataset& d, int64_t B, int64_t t0, int64_t kc,
                                    bool every_step, int64_t K, const std::vector<double>* h0,
                                    std::vector<double>* h_n) {
  const int64_t T = d.seq_len, I = d.input_size;
  const int64_t DH = ro.num_directions() * ro.hidden_size;
  std::vector<double> x(static_cast<size_t>(B * kc * I));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < kc; ++t)
      for (int64_t i = 0; i < I; ++i) x[(b * kc + t) * I + i] = d.inputs[(b * T + t0 + t) * I + i];
  const auto fwd = reference::forward<double>(ro, w, x, kc, B, h0);
  if (h_n) *h_n = fwd.h_n;
  std::vector<double> grad_out(static_cast<size_t>(B * kc * DH), 0.0);
  std::vector<double> gW(static_cast<size_t>(K * DH), 0.0), gb(static_cast<size_t>(K), 0.0);
  const double n = static_cast<double>(every_step ? B * kc * K : B * K);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = every_step ? 0 : kc - 1; t < kc; ++t) {
      const double* h = &fwd.output[(b * kc + t) * DH];
      for (int64_t k = 0; k < K; ++k) {
        double p = bias[k];
        for (int64_t j = 0; j < DH; ++j) p += W[k * DH + j] * h[j];
        const double y =
            every_step ? d.targets[b * T * K + (t0 + t) * K + k] : d.targets[b * K + k];
        const double g = 2.0 * (p - y) / n;
        gb[k] += g;
        for (int64_t j = 0; j < DH; ++j) {
          gW[k * DH + j] += g * h[j];
          grad_out[(b * kc + t) * DH + j] += g * W[k * DH + j];
        }
      }
    }
  const auto g = reference::backward<double>(ro, w, x, kc, B, h0, fwd, &grad_out, nullptr);
  std::vector<double> flat = reference::flat_from_weights(ro, g.weights);
  flat.insert(flat.end(), gW.begin(), gW.end());
  flat.insert(flat.end(), gb.begin(), gb.end());
  return flat;
}

void check_chunk_gradients(int64_t layers, bool bidirectional, HeadMode head) {
  const int64_t B = 3, T = 7, I = 2, H = 4, K = 2, k = 3;  // chunks of 3, 3 and 1 steps
  const bool every_step = head == HeadMode::kEveryStep;
  const RNNOptions ro = rnn_options(I, H, layers, bidirectional);
  const Dataset d = regression(B, T, I, every_step ? T * K : K, 5);
  Model m(ro, K, 3);
  Recorder rec(m.ctx);
  add_model(rec, m);
  TrainerOptions o;
  o.epochs = 1;
  o.batch_size = B;
  o.shuffle = false;
  o.head = head;
  o.bptt = k;
  Trainer tr(m.rnn, m.fc, rec, o);
  const FitResult fr = tr.fit(d, nullptr);
  ASSERT_FALSE(fr.stopped) << fr.message;
  // One optimizer step per chunk with a loss: every chunk (every step), the last (last step).
  ASSERT_EQ(rec.steps.size(), every_step ? 3u : 1u);

  const auto w = reference::weights_from_flat<double>(ro, m.rnn.flat_parameters().to_vector());
  const auto W = train_test::to_double(m.fc.weight().to_vector());
  const auto bias = train_test::to_double(m.fc.bias().to_vector());
  std::vector<double> h, h_next;
  size_t step = 0;
  for (int64_t t0 = 0; t0 < T; t0 += k) {
    const int64_t kc = std::min(k, T - t0);
    const bool has_loss = every_step || t0 + kc == T;
    const std::vector<double>* h0 = t0 > 0 ? &h : nullptr;
    const std::vector<double> want =
        reference_chunk(ro, w, W, bias, d, B, t0, kc, every_step, K, h0, &h_next);
    if (has_loss) {
      std::vector<double> got = train_test::to_double(rec.steps[step][0]);
      const auto head_grads = train_test::to_double(rec.steps[step][1]);
      got.insert(got.end(), head_grads.begin(), head_grads.end());
      const std::string what = "chunk at step " + std::to_string(t0);
      // Float32 forward and backward over at most 3 steps and a few units against double:
      // ~1e-7 relative rounding per operation; 1e-5 leaves room and is far below the
      // differences checked next (a missing carry or a gradient across the boundary: > 1e-2).
      EXPECT_TRUE(test::close(what, got, want, 1e-5));
      if (t0 > 0) {
        // The test can fail: the same chunk from a zero state, or with BPTT through the
        // previous steps (no detach), gives other gradients.
        const auto zero_state =
            reference_chunk(ro, w, W, bias, d, B, t0, kc, every_step, K, nullptr, nullptr);
        EXPECT_FALSE(test::close("zero state", got, zero_state, 1e-3));
        // Through the boundary: the chunk's loss over a forward from step 0, its gradient
        // flowing back to step 0, is what full BPTT would give for it.
        Dataset prefix = d;  // steps [0, t0 + kc), the loss on [t0, t0 + kc) only
        const int64_t n_steps = t0 + kc;
        prefix.seq_len = n_steps;
        prefix.inputs.clear();
        for (int64_t b = 0; b < B; ++b)
          for (int64_t t = 0; t < n_steps; ++t)
            for (int64_t i = 0; i < I; ++i) prefix.inputs.push_back(d.inputs[(b * T + t) * I + i]);
        std::vector<double> x(prefix.inputs.begin(), prefix.inputs.end());
        const auto fwd = reference::forward<double>(ro, w, x, n_steps, B, nullptr);
        const int64_t DH = ro.num_directions() * H;
        std::vector<double> grad_out(static_cast<size_t>(B * n_steps * DH), 0.0);
        const double n = static_cast<double>(every_step ? B * kc * K : B * K);
        for (int64_t b = 0; b < B; ++b)
          for (int64_t t = every_step ? t0 : n_steps - 1; t < n_steps; ++t)
            for (int64_t kk = 0; kk < K; ++kk) {
              const double* hv = &fwd.output[(b * n_steps + t) * DH];
              double p = bias[kk];
              for (int64_t j = 0; j < DH; ++j) p += W[kk * DH + j] * hv[j];
              const double y =
                  every_step ? d.targets[b * T * K + t * K + kk] : d.targets[b * K + kk];
              for (int64_t j = 0; j < DH; ++j)
                grad_out[(b * n_steps + t) * DH + j] += 2.0 * (p - y) / n * W[kk * DH + j];
            }
        const auto g =
            reference::backward<double>(ro, w, x, n_steps, B, nullptr, fwd, &grad_out, nullptr);
        const auto full = reference::flat_from_weights(ro, g.weights);
        const std::vector<double> got_rnn(got.begin(), got.begin() + full.size());
        EXPECT_FALSE(test::close("full BPTT", got_rnn, full, 1e-3));
      }
      ++step;
    }
    h = h_next;
  }
}

TEST(TruncatedBptt, ChunkGradientsEqualDetachedReferenceEveryStep) {
  check_chunk_gradients(1, false, HeadMode::kEveryStep);
}
TEST(TruncatedBptt, ChunkGradientsEqualDetachedReferenceTwoLayers) {
  check_chunk_gradients(2, false, HeadMode::kEveryStep);
}
TEST(TruncatedBptt, ChunkGradientsEqualDetachedReferenceBidirectional) {
  check_chunk_gradients(1, true, HeadMode::kEveryStep);
}
TEST(TruncatedBptt, ChunkGradientsEqualDetachedReferenceLastStep) {
  check_chunk_gradients(2, false, HeadMode::kLastStep);
}

// With an optimizer that changes nothing, the epoch's loss does not depend on k when the state
// is carried: each chunk's mean, weighted by its share of the steps, sums to the batch's mean.
// (A chunk reading another chunk's inputs or targets would change it.)
double untrained_loss(const Dataset& d, LossType loss, int64_t K, int64_t bptt) {
  Model m(rnn_options(d.input_size, 4, 1, false), K, 2);
  Recorder rec(m.ctx);
  rec.add_parameters(m.rnn.flat_parameters(), m.rnn.flat_grads());
  rec.add_parameters(m.fc.flat_parameters(), m.fc.flat_grads());
  TrainerOptions o;
  o.epochs = 1;
  o.batch_size = 2;
  o.head = HeadMode::kEveryStep;
  o.loss = loss;
  o.bptt = bptt;
  Trainer tr(m.rnn, m.fc, rec, o);
  return tr.fit(d, nullptr).epochs.at(0).train_loss;
}

TEST(TruncatedBptt, EpochLossIsTheMeanOverWholeSequences) {
  const int64_t T = 7, I = 2, K = 2;
  const Dataset mse = regression(5, T, I, T * K, 8);
  Dataset ce;  // one-hot characters, a class per step
  ce.seq_len = T;
  ce.input_size = 5;
  ce.tokens = true;
  ce.target_size = T;
  for (int64_t i = 0; i < 5 * T; ++i) {
    ce.input_ids.push_back((i * 3 + 1) % 5);
    ce.target_ids.push_back((i * 7 + 2) % 3);
  }
  for (int64_t k : {1, 3}) {
    const double full_mse = untrained_loss(mse, LossType::kMSE, K, 0);
    const double full_ce = untrained_loss(ce, LossType::kCrossEntropy, 3, 0);
    // The same sums in another order and grouping (float): a few ulps of values near 1.
    EXPECT_NEAR(untrained_loss(mse, LossType::kMSE, K, k), full_mse, 1e-5 * full_mse) << k;
    EXPECT_NEAR(untrained_loss(ce, LossType::kCrossEntropy, 3, k), full_ce, 1e-5 * full_ce) << k;
  }
}

TEST(TruncatedBptt, RejectsNegativeChunk) {
  Model m(rnn_options(2, 3, 1, false), 1, 1);
  Adam opt(m.ctx);
  TrainerOptions o;
  o.bptt = -1;
  EXPECT_THROW(Trainer(m.rnn, m.fc, opt, o), Error);
}

TEST(TruncatedBptt, CudaMatchesCpu) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const int64_t T = 40, I = 3, K = 2;
  const RNNOptions ro = rnn_options(I, 16, 2, false);
  const Dataset d = regression(24, T, I, T * K, 9);
  std::vector<double> losses[2];
  for (int dev = 0; dev < 2; ++dev) {
    Model m(ro, K, 4, dev == 0 ? Device::cpu() : Device::cuda(0));
    Adam opt(m.ctx, AdamOptions{0.01f});
    add_model(opt, m);
    TrainerOptions o;
    o.epochs = 3;
    o.batch_size = 8;
    o.head = HeadMode::kEveryStep;
    o.bptt = 7;
    Trainer tr(m.rnn, m.fc, opt, o);
    for (const auto& e : tr.fit(d, nullptr).epochs) losses[dev].push_back(e.train_loss);
  }
  ASSERT_EQ(losses[1].size(), 3u);
  // cuBLAS and OpenBLAS sum in other orders: float rounding, grown over 3 epochs of Adam steps.
  EXPECT_TRUE(test::close("losses", losses[1], losses[0], 1e-3));
}

}  // namespace
}  // namespace elman
