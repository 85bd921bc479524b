// The functor ops of kernels/copy_ops.h and kernels/step_ops.h (index arithmetic in both index
// forms, strides), the backend GEMM seam and host/param_layout.h's offsets, on CPU and CUDA.
#include <gtest/gtest.h>

#include <numeric>

#include "host/backend.h"
#include "host/param_layout.h"
#include "tests/test_util.h"

namespace elman::test {
namespace {

using detail::Activation;

std::vector<float> iota_floats(int64_t n, float start = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

// How an op is run: through detail::run (the CPU loop, which may use the op's row form
// at(row, col), or the CUDA launcher), or, on the CPU, by running every flat index i as the CUDA
// launcher does (run_element: op(i), or at(i / cols, i % cols) in the row form), so its index
// arithmetic is checked without a GPU.
enum class Form { kRun, kFlatIndex };

class Ops : public ::testing::TestWithParam<std::tuple<Where, Form>> {
 protected:
  void SetUp() override {
    if (where() == Where::kCUDA && cuda_device_count() == 0) return;
    ctx_ = std::make_unique<Context>(device_of(where()));
  }
  Where where() const { return std::get<0>(GetParam()); }
  Device dev() const { return device_of(where()); }
  Tensor on_device(const Shape& s, const std::vector<float>& v) const {
    return Tensor::from_vector(s, v, dev());
  }
  // Runs `op` on this test's backend, in this test's form, and waits for it.
  template <typename Op>
  void run(const Op& op) {
    if (std::get<1>(GetParam()) == Form::kFlatIndex && where() == Where::kCPU) {
      // The CUDA launcher's indexing: one flat index, split into (row, col) in the row form.
      const int64_t n = detail::elements_of(op), cols = detail::cols_of(op);
      for (int64_t i = 0; i < n; ++i) detail::run_element(op, i, cols);
    } else {
      detail::run(detail::backend_of(*ctx_), op);
    }
    ctx_->synchronize();
  }
  std::unique_ptr<Context> ctx_;
};

TEST_P(Ops, Fill) {
  ELMAN_SKIP_IF_NO_DEVICE(where());
  Tensor t = on_device({7}, std::vector<float>(7, kNaN));
  run(detail::Fill{t.data(), 5, 2.5f});  // only the first 5
  const std::vector<float> v = t.to_vector();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(v[i], 2.5f);
  EXPECT_TRUE(std::isnan(v[5]) && std::isnan(v[6])) << "Fill wrote past n";
}

TEST_P(Ops, CopyRowsWithStrides) {
  ELMAN_SKIP_IF_NO_DEVICE(where());
  // src: 3 rows of 2 used columns with row stride 4; dst: row stride 5, pre-filled with -1.
  const Tensor src = on_device({12}, iota_floats(12, 0.0f));
  Tensor dst = on_device({15}, std::vector<float>(15, -1.0f));
  run(detail::CopyRows{src.data(), dst.data(), 3, 2, 4, 5});
  EXPECT_TRUE(identical("copy rows", dst.to_vector(),
                        {0, 1, -1, -1, -1, 4, 5, -1, -1, -1, 8, 9, -1, -1, -1}));
}

TEST(StepOps, ActivationFunctions) {
  // Host-side checks of the shared element math (the device runs the same inline code).
  EXPECT_FLOAT_EQ(detail::activate(Activation::kTanh, 0.5f), std::tanh(0.5f));
  EXPECT_EQ(detail::activate(Activation::kReLU, -0.5f), 0.0f);
  EXPECT_EQ(detail::activate(Activation::kReLU, 0.75f), 0.75f);
  const float h = std::tanh(0.3f);
  EXPECT_FLOAT_EQ(detail::activation_grad_from_output(Activation::kTanh, h), 1 - h * h);
  EXPECT_EQ(detail::activation_grad_from_output(Activation::kReLU, 0.0f), 0.0f);
  EXPECT_EQ(detail::activation_grad_from_output(Activation::kReLU, 0.2f), 1.0f);
}

// ForwardStep: h[b, j] = f(pre[b, j] + b_ih[j] + b_hh[j]) with row strides on pre and h, and
// nothing written outside the [batch, hidden] window of h.
TEST_P(Ops, ForwardStepWithStrides) {
  ELMAN_SKIP_IF_NO_DEVICE(where());
  const int64_t batch = 3, hidden = 4, ld_pre = 6, ld_h = 9;
  const std::vector<float> pre = to_float(random_floats(batch * ld_pre, 1, 2.0));
  const std::vector<float> bi = to_float(random_floats(hidden, 2)),
                           bh = to_float(random_floats(hidden, 3));
  for (Activation act : {Activation::kTanh, Activation::kReLU})
    for (bool bias : {true, false}) {
      const Tensor pre_t = on_device({batch * ld_pre}, pre), bi_t = on_device({hidden}, bi),
                   bh_t = on_device({hidden}, bh);
      Tensor h = on_device({batch * ld_h}, std::vector<float>(batch * ld_h, -7.0f));
      detail::ForwardStep op{};
      op.pre = pre_t.data();
      op.b_ih = bias ? bi_t.data() : nullptr;
      op.b_hh = bias ? bh_t.data() : nullptr;
      op.h = h.data();
      op.batch = batch;
      op.hidden = hidden;
      op.ld_pre = ld_pre;
      op.ld_h = ld_h;
      op.act = act;
      op.active = batch;
      EXPECT_EQ(detail::elements_of(op), batch * hidden);
      run(op);
      const std::vector<float> got = h.to_vector();
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t c = 0; c < ld_h; ++c) {
          if (c >= hidden) {
            ASSERT_EQ(got[b * ld_h + c], -7.0f) << "wrote outside the window at b=" << b;
            continue;
          }
          float a = pre[b * ld_pre + c];
          if (bias) a += bi[c] + bh[c];
          const float want = act == Activation::kTanh ? std::tanh(a) : std::max(a, 0.0f);
          // Device tanhf may differ from the host's by a couple of ulps.
          ASSERT_NEAR(got[b * ld_h + c], want, 4e-7f) << "b=" << b << " j=" << c;
        }
      // Rows b >= active are sequences that have ended: their h is written as 0.
      op.active = 1;
      run(op);
      const std::vector<float> ended = h.to_vector();
      for (int64_t b = 1; b < batch; ++b)
        for (int64_t c = 0; c < hidden; ++c) ASSERT_EQ(ended[b * ld_h + c], 0.0f);
      EXPECT_EQ(ended[0], got[0]);
    }
}

// BackwardStep: delta[b, j] = (dy[b, j] + g[b, j]) * f'(h[b, j]), with the strides of a
// bidirectional layer's interleaved [T, B, 2H] buffers.
TEST_P(Ops, BackwardStepWithStrides) {
  ELMAN_SKIP_IF_NO_DEVICE(where());
  const int64_t batch = 2, hidden = 3, ld_dy = 7, ld_h = 6, ld_delta = 8;
  const std::vector<float> dy = to_float(random_floats(batch * ld_dy, 1));
  const std::vector<float> g = to_float(random_floats(batch * hidden, 2));
  std::vector<float> h = to_float(random_floats(batch * ld_h, 3));
  h[1] = 0.0f;  // relu's derivative at an output of exactly 0 is 0
  for (Activation act : {Activation::kTanh, Activation::kReLU}) {
    const Tensor dy_t = on_device({batch * ld_dy}, dy), g_t = on_device({batch * hidden}, g),
                 h_t = on_device({batch * ld_h}, h);
    Tensor delta = on_device({batch * ld_delta}, std::vector<float>(batch * ld_delta, -7.0f));
    detail::BackwardStep op{};
    op.dy = dy_t.data();
    op.g_carry = g_t.data();
    op.h = h_t.data();
    op.delta = delta.data();
    op.batch = batch;
    op.hidden = hidden;
    op.ld_dy = ld_dy;
    op.ld_h = ld_h;
    op.ld_delta = ld_delta;
    op.act = act;
    op.active = batch;
    run(op);
    const std::vector<float> got = delta.to_vector();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t c = 0; c < ld_delta; ++c) {
        if (c >= hidden) {
          ASSERT_EQ(got[b * ld_delta + c], -7.0f) << "wrote outside the window at b=" << b;
          continue;
        }
        const float hv = h[b * ld_h + c];
        const float fp = act == Activation::kTanh ? 1.0f - hv * hv : (hv > 0.0f ? 1.0f : 0.0f);
        const float want = (dy[b * ld_dy + c] + g[b * hidden + c]) * fp;
        ASSERT_NEAR(got[b * ld_delta + c], want, 1e-6f) << "b=" << b << " j=" << c;
      }
    op.active = 1;  // rows b >= active are not running: delta 0 whatever dy holds
    run(op);
    const std::vector<float> ended = delta.to_vector();
    for (int64_t c = 0; c < hidden; ++c) ASSERT_EQ(ended[ld_delta + c], 0.0f);
  }
}

// The GEMM seam: column-major C = alpha op(A) op(B) + beta C, with leading dimensions larger
// than the rows, for every transpose combination, against a plain triple loop.
TEST_P(Ops, GemmMatchesNaiveColumnMajor) {
  ELMAN_SKIP_IF_NO_DEVICE(where());
  using detail::Trans;
  const int64_t m = 5, n = 3, k = 4;
  for (Trans ta : {Trans::kN, Trans::kT})
    for (Trans tb : {Trans::kN, Trans::kT}) {
      const int64_t rows_a = ta == Trans::kN ? m : k, cols_a = ta == Trans::kN ? k : m;
      const int64_t rows_b = tb == Trans::kN ? k : n, cols_b = tb == Trans::kN ? n : k;
      const int64_t lda = rows_a + 2, ldb = rows_b + 1, ldc = m + 3;
      const std::vector<float> a = to_float(random_floats(lda * cols_a, 1));
      const std::vector<float> b = to_float(random_floats(ldb * cols_b, 2));
      const std::vector<float> c0 = to_float(random_floats(ldc * n, 3));
      auto A = [&](int64_t i, int64_t p) {  // op(A)[i, p]
        return ta == Trans::kN ? a[p * lda + i] : a[i * lda + p];
      };
      auto B = [&](int64_t p, int64_t j) {  // op(B)[p, j]
        return tb == Trans::kN ? b[j * ldb + p] : b[p * ldb + j];
      };
      const float alpha = 0.75f, beta = -0.5f;
      std::vector<double> want(c0.begin(), c0.end());
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < m; ++i) {
          double s = 0;
          for (int64_t p = 0; p < k; ++p) s += static_cast<double>(A(i, p)) * B(p, j);
          want[j * ldc + i] = alpha * s + beta * c0[j * ldc + i];  // rows >= m stay c0
        }
      const Tensor a_t = on_device({lda * cols_a}, a), b_t = on_device({ldb * cols_b}, b);
      Tensor c_t = on_device({ldc * n}, c0);
      detail::backend_of(*ctx_).gemm(ta, tb, m, n, k, alpha, a_t.data(), lda, b_t.data(), ldb, beta,
                                     c_t.data(), ldc);
      ctx_->synchronize();
      // float GEMM of length-4 dot products vs double: ~1e-7 relative; TF32 is not used here.
      EXPECT_TRUE(close(
          std::string("gemm ") + (ta == Trans::kN ? "N" : "T") + (tb == Trans::kN ? "N" : "T"),
          host_values(c_t), want, 1e-6));
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, Ops,
                         ::testing::Values(std::make_tuple(Where::kCPU, Form::kRun),
                                           std::make_tuple(Where::kCPU, Form::kFlatIndex),
                                           std::make_tuple(Where::kCUDA, Form::kRun)),
                         [](const ::testing::TestParamInfo<std::tuple<Where, Form>>& info) {
                           return std::string(where_name(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) == Form::kFlatIndex ? "_flat_index"
                                                                               : "");
                         });

// --- host/backend.h's LaneScope ---

// Records the lane calls a backend receives; join() can be made to fail.
class LaneRecorder final : public detail::Backend {
 public:
  Device device() const override { return Device::cpu(); }
  void gemm(detail::Trans, detail::Trans, int64_t, int64_t, int64_t, float, const float*, int64_t,
            const float*, int64_t, float, float*, int64_t) override {}
  void upload(void*, const void*, size_t) override {}
  void fork(int lanes) override { calls += "fork" + std::to_string(lanes) + " "; }
  void join() override {
    calls += "join ";
    if (join_fails) throw Error("join failed");
  }
  std::string calls;
  bool join_fails = false;
};

// An exception between fork and join still joins (once); a normal join is not repeated.
TEST(LaneScope, JoinsOnceOnEveryPath) {
  LaneRecorder be;
  {
    detail::LaneScope lanes(be, 2);
    lanes.join();
  }
  EXPECT_EQ(be.calls, "fork2 join ");
  be.calls.clear();
  EXPECT_THROW(
      {
        detail::LaneScope lanes(be, 2);
        throw Error("a step failed");
      },
      Error);
  EXPECT_EQ(be.calls, "fork2 join ");
  // A join that fails while an error is already leaving is dropped; the first error arrives.
  be.calls.clear();
  be.join_fails = true;
  ELMAN_EXPECT_ERROR(
      {
        detail::LaneScope lanes(be, 2);
        throw Error("a step failed");
      },
      "a step failed");
  EXPECT_EQ(be.calls, "fork2 join ");
  // An explicit join that fails reports its error and is not tried again.
  be.calls.clear();
  ELMAN_EXPECT_ERROR(
      {
        detail::LaneScope lanes(be, 2);
        lanes.join();
      },
      "join failed");
  EXPECT_EQ(be.calls, "fork2 join ");
}

// --- host/param_layout.h ---

TEST(ParamLayout, OffsetsByHand) {
  // I = 3, H = 2, two layers, bidirectional: the layer-1 cells see D*H = 4 inputs.
  const RNNOptions o = make_options(3, 2, 2, Nonlinearity::kTanh, true, false);
  const detail::ParamLayout p = detail::make_param_layout(o);
  const std::vector<std::string> names = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  const std::vector<Shape> shapes = {{2, 3}, {2, 2}, {2}, {2}, {2, 3}, {2, 2}, {2}, {2},
                                     {2, 4}, {2, 2}, {2}, {2}, {2, 4}, {2, 2}, {2}, {2}};
  const std::vector<int64_t> offsets = {0,  6,  10, 12, 14, 20, 24, 26,
                                        28, 36, 40, 42, 44, 52, 56, 58};
  ASSERT_EQ(p.entries.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(p.entries[i].name, names[i]);
    EXPECT_EQ(p.entries[i].shape, shapes[i]) << names[i];
    EXPECT_EQ(p.entries[i].offset, offsets[i]) << names[i];
  }
  EXPECT_EQ(p.total, 60);
  ASSERT_EQ(p.cells.size(), 4u);
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_EQ(p.cells[c].w_ih, offsets[4 * c]);
    EXPECT_EQ(p.cells[c].w_hh, offsets[4 * c + 1]);
    EXPECT_EQ(p.cells[c].b_ih, offsets[4 * c + 2]);
    EXPECT_EQ(p.cells[c].b_hh, offsets[4 * c + 3]);
  }
  // The model exposes the same layout: parameter(name) is a view at that offset.
  Context ctx(Device::cpu());
  RNN rnn(ctx, o, 1);
  EXPECT_EQ(rnn.parameter_names(), names);
  const std::vector<float> flat = rnn.flat_parameters().to_vector();
  const std::vector<float> w = rnn.parameter("weight_ih_l1_reverse").to_vector();
  ASSERT_EQ(w.size(), 8u);
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w[i], flat[44 + i]);
}

TEST(ParamLayout, NoBiasAndGeneralShapes) {
  const RNNOptions nb = make_options(5, 3, 3, Nonlinearity::kReLU, false, false, false);
  const detail::ParamLayout p = detail::make_param_layout(nb);
  ASSERT_EQ(p.entries.size(), 6u);  // weight_ih, weight_hh per layer
  for (const auto& c : p.cells) {
    EXPECT_EQ(c.b_ih, -1);
    EXPECT_EQ(c.b_hh, -1);
  }
  EXPECT_EQ(p.entries[2].name, "weight_ih_l1");
  EXPECT_EQ(p.entries[2].shape, (Shape{3, 3}));
  // Entries are contiguous and in order, and the total is PyTorch's parameter count, for a
  // spread of configurations.
  for (int64_t L : {1, 2, 3})
    for (bool bi : {false, true})
      for (bool bias : {false, true}) {
        const RNNOptions o = make_options(7, 5, L, Nonlinearity::kTanh, bi, false, bias);
        const detail::ParamLayout q = detail::make_param_layout(o);
        int64_t next = 0, expected_total = 0;
        for (const auto& e : q.entries) {
          EXPECT_EQ(e.offset, next) << e.name;
          next += shape_numel(e.shape);
        }
        for (int64_t l = 0; l < L; ++l)
          expected_total +=
              o.num_directions() * (5 * o.layer_input_size(l) + 5 * 5 + (bias ? 2 * 5 : 0));
        EXPECT_EQ(q.total, next);
        EXPECT_EQ(q.total, expected_total) << options_str(o);
        EXPECT_EQ(q.cells.size(), static_cast<size_t>(L * o.num_directions()));
      }
  RNNOptions bad = nb;
  bad.hidden_size = 0;
  ELMAN_EXPECT_ERROR(detail::make_param_layout(bad), "hidden_size");
}

}  // namespace
}  // namespace elman::test
