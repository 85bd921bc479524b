// elman::Linear: nn.Linear's parameters in one flat buffer, its initialisation, and forward /
// backward as column-major GEMMs through the backend (row-major [N, K] is column-major K x N).
#include "elman/linear.h"

#include <cmath>
#include <random>

#include "elman/error.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "kernels/train/train_ops.h"

namespace elman {

using detail::Trans;

Linear::Linear(Context& ctx, int64_t in_features, int64_t out_features, uint64_t seed)
    : ctx_(&ctx), in_(in_features), out_(out_features), names_{"weight", "bias"} {
  if (in_features <= 0)
    throw Error("Linear: in_features must be positive, got " + std::to_string(in_features));
  if (out_features <= 0)
    throw Error("Linear: out_features must be positive, got " + std::to_string(out_features));
  const int64_t total = out_ * in_ + out_;
  // kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in); the
  // bias uses the same bound. Same generator and mapping as the RNN's initialisation.
  std::vector<float> init(static_cast<size_t>(total));
  std::mt19937_64 gen(seed);
  const double k = 1.0 / std::sqrt(static_cast<double>(in_));
  for (float& v : init) {
    const double u = static_cast<double>(gen() >> 11) * 0x1.0p-53;  // [0, 1)
    v = static_cast<float>((2.0 * u - 1.0) * k);
  }
  const Device device = ctx.device();
  flat_params_ = Tensor::from_vector({total}, init, device);
  flat_grads_ = Tensor::zeros({total}, device);
  weight_ = flat_params_.view({out_, in_}, 0);
  bias_ = flat_params_.view({out_}, out_ * in_);
  weight_grad_ = flat_grads_.view({out_, in_}, 0);
  bias_grad_ = flat_grads_.view({out_}, out_ * in_);
}

Tensor& Linear::parameter(const std::string& name) {
  if (name == "weight") return weight_;
  if (name == "bias") return bias_;
  throw Error("Linear::parameter: no parameter named '" + name + "' (parameters: weight, bias)");
}

Tensor& Linear::grad(const std::string& name) {
  if (name == "weight") return weight_grad_;
  if (name == "bias") return bias_grad_;
  throw Error("Linear::grad: no parameter named '" + name + "' (parameters: weight, bias)");
}

void Linear::zero_grad() {
  detail::run(ctx_->backend(), detail::Fill{flat_grads_.data(), flat_grads_.numel(), 0.0f});
}

namespace {

// The number of rows of x ([..., in]), after checking its last dimension and device.
int64_t rows_of(const char* call, const char* name, const Tensor& x, int64_t features,
                Device device) {
  if (!x.defined()) throw Error(std::string(call) + ": " + name + " is undefined");
  if (x.dim() < 1 || x.size(-1) != features)
    throw Error(std::string(call) + ": " + name + " has shape " + shape_str(x.shape()) +
                ", expected [*, " + std::to_string(features) + "]");
  if (x.device() != device)
    throw Error(std::string(call) + ": " + name + " is on " + x.device().str() + ", the layer on " +
                device.str());
  return x.numel() / features;
}

}  // namespace

void Linear::forward_into(const Tensor& x, Tensor& y) {
  const Device device = ctx_->device();
  const int64_t n = rows_of("Linear::forward", "x", x, in_, device);
  detail::ensure_result(y, {n, out_}, device);
  if (n == 0) return;
  detail::Backend& be = ctx_->backend();
  detail::run(be, detail::BroadcastRows{bias_.data(), y.data(), n, out_});
  // y^T (out x n) += W (out x in, stored column-major as in x out) x^T (in x n).
  be.gemm(Trans::kT, Trans::kN, out_, n, in_, 1.0f, weight_.data(), in_, x.data(), in_, 1.0f,
          y.data(), out_);
}

Tensor Linear::forward(const Tensor& x) {
  Tensor y;
  forward_into(x, y);
  return y;
}

void Linear::backward_into(const Tensor& x, const Tensor& grad_y, Tensor* grad_x) {
  const Device device = ctx_->device();
  const int64_t n = rows_of("Linear::backward", "x", x, in_, device);
  const int64_t ng = rows_of("Linear::backward", "grad_y", grad_y, out_, device);
  if (ng != n)
    throw Error("Linear::backward: grad_y has shape " + shape_str(grad_y.shape()) + ", expected [" +
                std::to_string(n) + ", " + std::to_string(out_) + "] (one row per row of x)");
  if (grad_x) detail::ensure_result(*grad_x, {n, in_}, device);
  if (n == 0) return;
  detail::Backend& be = ctx_->backend();
  if (!ones_.defined() || ones_.device() != device || ones_.numel() < n) {
    ones_ = Tensor::empty({n}, device);  // filled once per size, not per call
    detail::run(be, detail::Fill{ones_.data(), n, 1.0f});
  }
  // dW (stored column-major as in x out) += x^T (in x n) grad_y (n x out).
  be.gemm(Trans::kN, Trans::kT, in_, out_, n, 1.0f, x.data(), in_, grad_y.data(), out_, 1.0f,
          weight_grad_.data(), in_);
  // db (out) += grad_y^T (out x n) 1 (n).
  be.gemm(Trans::kN, Trans::kN, out_, 1, n, 1.0f, grad_y.data(), out_, ones_.data(), n, 1.0f,
          bias_grad_.data(), out_);
  // grad_x^T (in x n) = W^T (in x out) grad_y^T (out x n).
  if (grad_x)
    be.gemm(Trans::kN, Trans::kN, in_, n, out_, 1.0f, weight_.data(), in_, grad_y.data(), out_,
            0.0f, grad_x->data(), in_);
}

}  // namespace elman
