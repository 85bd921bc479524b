// Token inputs: the Embedding layer against its definition (lookup, N(0, 1) initialisation,
// padding_idx, scatter-add gradient, errors); the Trainer with an embedding (one SGD step
// against finite differences of the loss, an identity embedding equal to one-hot input, the
// padding row never moving, exact resume); the Trainer on a time-major (batch_first = false)
// RNN equal to the batch-first run; and checkpoints with "embedding.weight", to and from
// PyTorch's nn.Embedding + nn.RNN + nn.Linear where /usr/bin/python3 has torch.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "tests/train/torch_roundtrip.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

namespace fs = std::filesystem;
using train_test::random_floats;
using train_test::rnn_options;
using train_test::token_data;

TEST(Embedding, ForwardPicksRowsForIdsOfAnyShape) {
  Context ctx;
  Embedding emb(ctx, 5, 3, std::nullopt, 7);
  const std::vector<float> w = emb.weight().to_vector();
  const IndexTensor ids = IndexTensor::from_vector({2, 3}, {4, 0, 4, 1, 2, 3});
  const Tensor out = emb.forward(ids);
  ASSERT_EQ(out.shape(), (Shape{2, 3, 3}));
  const std::vector<float> o = out.to_vector();
  const std::vector<int64_t>& id = ids.to_vector();
  for (size_t p = 0; p < id.size(); ++p)
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(o[p * 3 + c], w[static_cast<size_t>(id[p]) * 3 + c]);
}

TEST(Embedding, InitialisationIsStandardNormalAndSeeded) {
  Context ctx;
  Embedding a(ctx, 1000, 50, std::nullopt, 3), b(ctx, 1000, 50, std::nullopt, 3);
  Embedding c(ctx, 1000, 50, std::nullopt, 4);
  const auto w = a.weight().to_vector();
  EXPECT_EQ(w, b.weight().to_vector());
  EXPECT_NE(w, c.weight().to_vector());
  double sum = 0, sq = 0;
  for (float v : w) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(w.size()), mean = sum / n;
  // 50,000 draws: the mean's standard error is 0.0045, the variance's 0.0063.
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sq / n - mean * mean, 1.0, 0.03);
  EXPECT_EQ(a.parameter_names(), std::vector<std::string>{"weight"});
  EXPECT_EQ(a.weight().shape(), (Shape{1000, 50}));
}

TEST(Embedding, PaddingRowStartsAtZeroAndGetsNoGradient) {
  Context ctx;
  Embedding emb(ctx, 4, 2, -1, 1);  // -1: the last row, as in PyTorch
  ASSERT_EQ(emb.padding_idx(), std::optional<int64_t>(3));
  const auto w = emb.weight().to_vector();
  EXPECT_EQ(w[6], 0.0f);
  EXPECT_EQ(w[7], 0.0f);
  const IndexTensor ids = IndexTensor::from_vector({4}, {3, 1, 3, 1});
  emb.backward(ids, Tensor::from_vector({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}));
  // Row 1 gets both of its positions, added; row 3 (padding) nothing.
  EXPECT_EQ(emb.grad("weight").to_vector(), (std::vector<float>{0, 0, 3 + 7, 4 + 8, 0, 0, 0, 0}));
  emb.backward(ids, Tensor::from_vector({4, 2}, {1, 1, 1, 1, 1, 1, 1, 1}));  // accumulates
  EXPECT_EQ(emb.grad("weight").to_vector(), (std::vector<float>{0, 0, 12, 14, 0, 0, 0, 0}));
  emb.zero_grad();
  EXPECT_EQ(emb.grad("weight").to_vector(), std::vector<float>(8, 0.0f));
}

TEST(Embedding, MisuseIsRefusedByName) {
  Context ctx;
  EXPECT_ERROR_WITH(Embedding(ctx, 0, 3), "num_embeddings must be positive");
  EXPECT_ERROR_WITH(Embedding(ctx, 3, 0), "embedding_dim must be positive");
  EXPECT_ERROR_WITH(Embedding(ctx, 3, 2, 3), "padding_idx 3 is outside [-3, 3)");
  Embedding emb(ctx, 3, 2);
  EXPECT_ERROR_WITH(emb.forward(IndexTensor::from_vector({2}, {1, 3})),
                    "id 3 at position 1 is out of range for 3 embeddings");
  EXPECT_ERROR_WITH(IndexTensor::from_vector({2}, {1, -2}), "value -2 at position 1");
  EXPECT_ERROR_WITH(IndexTensor::from_vector({3}, {1, 2}), "2 values given for shape [3]");
  const IndexTensor ids = IndexTensor::from_vector({2}, {0, 1});
  EXPECT_ERROR_WITH(emb.backward(ids, Tensor::zeros({2, 3})), "expected [2, 2]");
  Tensor grads = emb.flat_grads();
  EXPECT_ERROR_WITH(emb.backward(ids, grads.view({2, 2})), "shares memory");
  Tensor out = emb.flat_parameters().view({2, 2});
  EXPECT_ERROR_WITH(emb.forward_into(ids, out), "shares memory");
  Embedding moved = std::move(emb);
  EXPECT_ERROR_WITH(emb.forward(ids), "moved from");
  EXPECT_EQ(moved.forward(ids).shape(), (Shape{2, 2}));
}

// Embedding -> RNN -> Linear, with every parameter in one vector (embedding, rnn, fc).
struct TokenModel {
  Context ctx;
  Embedding emb;
  RNN rnn;
  Linear fc;
  TokenModel(int64_t V, int64_t E, const RNNOptions& o, int64_t K, uint64_t seed,
             std::optional<int64_t> padding_idx = std::nullopt)
      : emb(ctx, V, E, padding_idx, seed + 2),
        rnn(ctx, o, seed),
        fc(ctx, o.num_directions() * o.hidden_size, K, seed + 1) {}
  std::vector<Tensor> buffers() {
    return {emb.flat_parameters(), rnn.flat_parameters(), fc.flat_parameters()};
  }
  std::vector<float> params() {
    std::vector<float> all;
    for (const Tensor& t : buffers()) {
      const auto v = t.to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }
  void set_params(const std::vector<float>& p) {
    size_t at = 0;
    for (Tensor t : buffers()) {
      const size_t n = static_cast<size_t>(t.numel());
      t.copy_from(
          Tensor::from_vector(t.shape(), std::vector<float>(p.begin() + at, p.begin() + at + n)));
      at += n;
    }
  }
  void add_to(Optimizer& opt) {
    opt.add_parameters(emb.flat_parameters(), emb.flat_grads());
    opt.add_parameters(rnn.flat_parameters(), rnn.flat_grads());
    opt.add_parameters(fc.flat_parameters(), fc.flat_grads());
  }
};

// One full-batch SGD step with lr 1 moves every parameter, the embedding's included, by -grad;
// checked against central differences of Trainer::evaluate's loss.
void check_embedding_step(HeadMode head, bool batch_first) {
  const int64_t n = 5, T = 4, V = 6, E = 3, H = 4, K = 3;
  RNNOptions ro = rnn_options(E, H);
  ro.batch_first = batch_first;
  TokenModel m(V, E, ro, K, 5, 2);  // row 2 is padding: it must not move
  SGD opt(m.ctx, SGDOptions{1.0f});
  m.add_to(opt);
  TrainerOptions o;
  o.epochs = 1;
  o.batch_size = n;
  o.head = head;
  o.loss = LossType::kCrossEntropy;
  o.shuffle = false;
  Trainer tr(m.emb, m.rnn, m.fc, opt, o);
  const Dataset d = token_data(n, T, V, K, head, 11);
  const std::vector<float> p0 = m.params();
  std::vector<float> p1;
  const double error = train_test::step_gradient_error(
      p0, [&](const std::vector<float>& p) { m.set_params(p); }, [&] { return tr.evaluate(d); },
      [&] {
        EXPECT_FALSE(tr.fit(d, nullptr).stopped);
        return p1 = m.params();
      },
      // The loss does depend on the padding row, but PyTorch's padding_idx gives it no gradient.
      [&](size_t i) { return i >= static_cast<size_t>(2 * E) && i < static_cast<size_t>(3 * E); });
  // As the trainer's own check (trainer_test): float losses differenced over 2h.
  EXPECT_LT(error, 5e-3);
  for (int64_t c = 0; c < E; ++c) EXPECT_EQ(p1[2 * E + c], 0.0f) << "padding row moved";
  double moved = 0;
  for (int64_t i = 0; i < V * E; ++i) moved += std::fabs(p1[i] - p0[i]);
  EXPECT_GT(moved, 0.0) << "the embedding did not train";
}

TEST(TrainerEmbedding, StepGradientEveryStep) { check_embedding_step(HeadMode::kEveryStep, true); }
TEST(TrainerEmbedding, StepGradientLastStep) { check_embedding_step(HeadMode::kLastStep, true); }
TEST(TrainerEmbedding, StepGradientTimeMajor) { check_embedding_step(HeadMode::kEveryStep, false); }

// With an identity embedding (E = V), the RNN sees exactly the one-hot rows the trainer builds
// without one: the first batch's loss and the RNN's update are bitwise those of one-hot input.
TEST(TrainerEmbedding, IdentityEmbeddingEqualsOneHot) {
  const int64_t n = 6, T = 5, V = 4, H = 5, K = 4;
  const Dataset d = token_data(n, T, V, K, HeadMode::kEveryStep, 3);
  TrainerOptions o;
  o.epochs = 1;
  o.batch_size = n;  // one step: the epoch's loss is taken before any update
  o.head = HeadMode::kEveryStep;
  o.loss = LossType::kCrossEntropy;
  TokenModel a(V, V, rnn_options(V, H), K, 8);
  std::vector<float> eye(static_cast<size_t>(V * V), 0.0f);
  for (int64_t i = 0; i < V; ++i) eye[static_cast<size_t>(i * V + i)] = 1.0f;
  a.emb.set_parameter("weight", Tensor::from_vector({V, V}, eye));
  SGD opt_a(a.ctx, SGDOptions{0.5f});
  a.add_to(opt_a);
  Trainer with(a.emb, a.rnn, a.fc, opt_a, o);
  train_test::Model b(V, H, K, 8);
  SGD opt_b(b.ctx, SGDOptions{0.5f});
  train_test::add_model(opt_b, b);
  Trainer without(b.rnn, b.fc, opt_b, o);
  ASSERT_EQ(a.rnn.flat_parameters().to_vector(), b.rnn.flat_parameters().to_vector());
  const double la = with.fit(d, nullptr).epochs.at(0).train_loss;
  const double lb = without.fit(d, nullptr).epochs.at(0).train_loss;
  EXPECT_EQ(la, lb);
  EXPECT_EQ(a.rnn.flat_parameters().to_vector(), b.rnn.flat_parameters().to_vector());
  EXPECT_EQ(a.fc.flat_parameters().to_vector(), b.fc.flat_parameters().to_vector());
}

// The same run on a time-major RNN: the same losses, parameters and predictions (the batches
// are laid out [T, B, ...] instead of [B, T, ...]; every sum is the same).
void check_time_major_matches(HeadMode head, LossType loss, int64_t bptt) {
  const int64_t T = 6, I = 3, H = 4, K = loss == LossType::kMSE ? 2 : 3;
  Dataset d;
  if (loss == LossType::kMSE) {
    d = train_test::regression(11, T, I, head == HeadMode::kLastStep ? K : T * K, 4);
  } else {
    d = token_data(11, T, I, K, head, 4);
  }
  std::vector<double> losses[2];
  std::vector<float> params[2], preds[2];
  for (int tm = 0; tm < 2; ++tm) {
    RNNOptions ro = rnn_options(I, H, 2, true);
    ro.batch_first = tm == 0;
    train_test::Model m(ro, K, 6);
    Adam opt(m.ctx, AdamOptions{0.01f});
    train_test::add_model(opt, m);
    TrainerOptions o;
    o.epochs = 2;
    o.batch_size = 4;  // 11 = 4 + 4 + 3: a short last batch too
    o.head = head;
    o.loss = loss;
    o.bptt = bptt;
    o.seed = 9;
    Trainer tr(m.rnn, m.fc, opt, o);
    for (const auto& r : tr.fit(d, &d).epochs) {
      losses[tm].push_back(r.train_loss);
      losses[tm].push_back(r.val_loss);
    }
    params[tm] = m.params();
    preds[tm] = tr.predict(d);
  }
  ASSERT_EQ(losses[0].size(), 4u);
  for (size_t i = 0; i < losses[0].size(); ++i)
    EXPECT_NEAR(losses[1][i], losses[0][i], 1e-6 * std::fabs(losses[0][i])) << i;
  ASSERT_EQ(params[0].size(), params[1].size());
  for (size_t i = 0; i < params[0].size(); ++i) EXPECT_NEAR(params[1][i], params[0][i], 1e-6) << i;
  ASSERT_EQ(preds[0].size(), preds[1].size());
  for (size_t i = 0; i < preds[0].size(); ++i) EXPECT_NEAR(preds[1][i], preds[0][i], 1e-5) << i;
}

TEST(TrainerTimeMajor, LastStepMseMatchesBatchFirst) {
  check_time_major_matches(HeadMode::kLastStep, LossType::kMSE, 0);
}
TEST(TrainerTimeMajor, EveryStepMseWithTruncatedBpttMatchesBatchFirst) {
  check_time_major_matches(HeadMode::kEveryStep, LossType::kMSE, 4);
}
TEST(TrainerTimeMajor, EveryStepCrossEntropyMatchesBatchFirst) {
  check_time_major_matches(HeadMode::kEveryStep, LossType::kCrossEntropy, 0);
}

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / "elman_embedding_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

TEST(TrainerEmbedding, TrainingCheckpointResumesExactly) {
  const Dataset d = token_data(9, 5, 7, 7, HeadMode::kEveryStep, 21);
  TrainerOptions o;
  o.batch_size = 4;
  o.head = HeadMode::kEveryStep;
  o.loss = LossType::kCrossEntropy;
  o.seed = 2;
  auto make = [](TokenModel& m, Adam& opt) { m.add_to(opt); };
  TokenModel whole(7, 3, rnn_options(3, 4), 7, 1), parted(7, 3, rnn_options(3, 4), 7, 1);
  Adam opt_w(whole.ctx, AdamOptions{0.02f}), opt_p(parted.ctx, AdamOptions{0.02f});
  make(whole, opt_w);
  make(parted, opt_p);
  o.epochs = 4;
  Trainer tw(whole.emb, whole.rnn, whole.fc, opt_w, o);
  tw.fit(d, nullptr);
  const std::string path = temp_path("resume.safetensors");
  o.epochs = 2;
  o.checkpoint_path = path;
  {
    Trainer first(parted.emb, parted.rnn, parted.fc, opt_p, o);
    first.fit(d, nullptr);
  }
  TokenModel fresh(7, 3, rnn_options(3, 4), 7, 99);
  Adam opt_f(fresh.ctx, AdamOptions{0.02f});
  make(fresh, opt_f);
  Trainer second(fresh.emb, fresh.rnn, fresh.fc, opt_f, o);
  second.load_checkpoint(path);
  second.fit(d, nullptr);
  EXPECT_EQ(fresh.params(), whole.params());  // bitwise: the uninterrupted run
  EXPECT_EQ(load_safetensors(path).count("embedding.weight"), 1u);
}

TEST(CheckpointEmbedding, RoundTripIsExactAndTheEmbeddingIsRequired) {
  TokenModel a(6, 3, rnn_options(3, 4), 6, 1), b(6, 3, rnn_options(3, 4), 6, 2);
  const std::string path = temp_path("model.safetensors");
  save_checkpoint(path, a.emb, a.rnn, a.fc);
  load_checkpoint(path, b.emb, b.rnn, b.fc);
  EXPECT_EQ(a.params(), b.params());
  EXPECT_EQ(load_safetensors(path).at("embedding.weight").shape, (Shape{6, 3}));
  // A model without an embedding refuses the file, and the other way round, by name.
  EXPECT_ERROR_WITH(load_checkpoint(path, b.rnn, b.fc), "unexpected embedding.weight");
  const std::string plain = temp_path("plain.safetensors");
  save_checkpoint(plain, a.rnn, a.fc);
  EXPECT_ERROR_WITH(load_checkpoint(plain, b.emb, b.rnn, b.fc), "missing embedding.weight");
  EXPECT_EQ(a.params(), b.params());  // refused loads change nothing
}

// Embedding -> RNN -> fc on every step, for the fixed ids of torch_roundtrip.py.
std::vector<float> forward_tokens(TokenModel& m) {
  const int64_t V = m.emb.num_embeddings();
  std::vector<int64_t> ids;
  for (int64_t k = 0; k < 2 * 5; ++k) ids.push_back((k * 3 + 1) % V);
  const Tensor x = m.emb.forward(IndexTensor::from_vector({2, 5}, ids));
  const Tensor out = m.rnn.forward(x).output;
  const int64_t H = m.rnn.options().hidden_size;
  return m.fc.forward(out.view({10, H})).to_vector();
}

TEST(CheckpointEmbedding, PyTorchRoundTripBothWays) {
  if (!train_test::torch_available())
    GTEST_SKIP() << "/usr/bin/python3 has no torch (apt-get install python3-torch): the "
                    "PyTorch round trip is not checked";
  TokenModel a(7, 3, rnn_options(3, 5, 2), 7, 4);
  const fs::path dir = fs::path(temp_path("torch"));
  fs::create_directories(dir);
  const std::string ckpt = (dir / "elman.safetensors").string();
  save_checkpoint(ckpt, a.emb, a.rnn, a.fc);
  const train_test::TorchRoundTrip torch = train_test::run_torch_roundtrip(ckpt, dir);
  ASSERT_TRUE(torch.ran);
  const auto mine = forward_tokens(a);
  ASSERT_EQ(mine.size(), torch.on_elman.size());
  for (size_t i = 0; i < mine.size(); ++i) EXPECT_NEAR(mine[i], torch.on_elman[i], 1e-5) << i;
  TokenModel b(7, 3, rnn_options(3, 5, 2), 7, 99);
  load_checkpoint(torch.own_checkpoint, b.emb, b.rnn, b.fc);
  const auto got = forward_tokens(b);
  ASSERT_EQ(got.size(), torch.own.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], torch.own[i], 1e-5) << i;
}

}  // namespace
}  // namespace elman
