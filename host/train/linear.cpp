// elman::Linear: nn.Linear's parameters in one flat buffer, its initialisation, and forward /
// backward as column-major GEMMs through the backend (row-major [N, K] is column-major K x N).
#include "elman/linear.h"

#include <cmath>

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/checked_size.h"
#include "host/init.h"
#include "kernels/train/train_ops.h"

namespace elman {

using detail::Trans;

Linear::Linear(const Context& ctx, int64_t in_features, int64_t out_features, uint64_t seed)
    : ctx_(ctx), in_(in_features), out_(out_features), names_{"weight", "bias"} {
  if (in_features <= 0)
    throw Error("Linear: in_features must be positive, got " + std::to_string(in_features));
  if (out_features <= 0)
    throw Error("Linear: out_features must be positive, got " + std::to_string(out_features));
  const std::string call =
      "Linear(" + std::to_string(in_features) + ", " + std::to_string(out_features) + ")";
  const int64_t weights = detail::checked_mul(out_, in_, call + ": weight");
  const int64_t total = detail::checked_add(weights, out_, call + ": parameters");
  const Device device = ctx_.device();
  try {
    flat_params_ = Tensor::empty({total}, device);
    flat_grads_ = Tensor::zeros({total}, device);
  } catch (const Error& e) {
    throw Error(call + ": " + e.what());
  }
  // kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in); the
  // bias uses the same bound. Same generator and mapping as the RNN's initialisation.
  detail::fill_uniform(flat_params_, 1.0 / std::sqrt(static_cast<double>(in_)), seed);
  weight_ = flat_params_.view({out_, in_}, 0);
  bias_ = flat_params_.view({out_}, weights);
  weight_grad_ = flat_grads_.view({out_, in_}, 0);
  bias_grad_ = flat_grads_.view({out_}, weights);
}

Linear::Linear(Linear&& other) noexcept
    : ctx_(other.ctx_),
      in_(other.in_),
      out_(other.out_),
      names_(std::move(other.names_)),
      flat_params_(std::move(other.flat_params_)),
      flat_grads_(std::move(other.flat_grads_)),
      weight_(std::move(other.weight_)),
      bias_(std::move(other.bias_)),
      weight_grad_(std::move(other.weight_grad_)),
      bias_grad_(std::move(other.bias_grad_)),
      ones_(std::move(other.ones_)) {
  other.moved_from_ = true;
}

void Linear::check_usable(const char* call) const {
  if (moved_from_)
    throw Error(std::string(call) +
                ": this Linear was moved from; use the Linear it was moved "
                "into");
}

const Tensor& Linear::parameter(const std::string& name) const {
  check_usable("Linear::parameter");
  if (name == "weight") return weight_;
  if (name == "bias") return bias_;
  throw Error("Linear::parameter: no parameter named '" + name + "' (parameters: weight, bias)");
}

const Tensor& Linear::grad(const std::string& name) const {
  check_usable("Linear::grad");
  if (name == "weight") return weight_grad_;
  if (name == "bias") return bias_grad_;
  throw Error("Linear::grad: no parameter named '" + name + "' (parameters: weight, bias)");
}

void Linear::set_parameter(const std::string& name, const Tensor& values) {
  Tensor p = parameter(name);
  if (!values.defined())
    throw Error("Linear::set_parameter: values for '" + name + "' are undefined");
  if (values.shape() != p.shape())
    throw Error("Linear::set_parameter: values for '" + name + "' have shape " +
                shape_str(values.shape()) + ", expected " + shape_str(p.shape()));
  p.copy_from(values);
}

void Linear::zero_grad() {
  check_usable("Linear::zero_grad");
  Tensor grads = flat_grads_;
  grads.mark_modified();
  detail::run(ctx_.backend(), detail::Fill{grads.data(), grads.numel(), 0.0f});
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
  constexpr const char* kCall = "Linear::forward";
  check_usable(kCall);
  const Device device = ctx_.device();
  const int64_t n = rows_of(kCall, "x", x, in_, device);
  detail::check_no_overlap(
      kCall, {"y", y}, {n, out_}, device,
      {{"x", x}, {"the layer's parameters", flat_params_}, {"the layer's gradients", flat_grads_}});
  detail::ensure_result(y, {n, out_}, device);
  if (n == 0) return;
  detail::Backend& be = ctx_.backend();
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
  constexpr const char* kCall = "Linear::backward";
  check_usable(kCall);
  const Device device = ctx_.device();
  const int64_t n = rows_of(kCall, "x", x, in_, device);
  const int64_t ng = rows_of(kCall, "grad_y", grad_y, out_, device);
  if (ng != n)
    throw Error("Linear::backward: grad_y has shape " + shape_str(grad_y.shape()) + ", expected [" +
                std::to_string(n) + ", " + std::to_string(out_) + "] (one row per row of x)");
  if (grad_x) {
    detail::check_no_overlap(kCall, {"grad_x", *grad_x}, {n, in_}, device,
                             {{"x", x},
                              {"grad_y", grad_y},
                              {"the layer's parameters", flat_params_},
                              {"the layer's gradients", flat_grads_}});
    detail::ensure_result(*grad_x, {n, in_}, device);
  }
  Tensor grads = flat_grads_;  // accumulated into: a write (Tensor::version())
  grads.mark_modified();
  if (n == 0) return;
  detail::Backend& be = ctx_.backend();
  if (!ones_.defined() || ones_.device() != device || ones_.numel() < n) {
    ones_ = Tensor::empty({n}, device);  // filled once per size, not per call
    detail::run(be, detail::Fill{ones_.data(), n, 1.0f});
  }
  // dW (stored column-major as in x out) += x^T (in x n) grad_y (n x out).
  be.gemm(Trans::kN, Trans::kT, in_, out_, n, 1.0f, x.data(), in_, grad_y.data(), out_, 1.0f,
          grads.data(), in_);
  // db (out) += grad_y^T (out x n) 1 (n).
  be.gemm(Trans::kN, Trans::kN, out_, 1, n, 1.0f, grad_y.data(), out_, ones_.data(), n, 1.0f,
          grads.data() + out_ * in_, out_);
  // grad_x^T (in x n) = W^T (in x out) grad_y^T (out x n).
  if (grad_x)
    be.gemm(Trans::kN, Trans::kN, in_, n, out_, 1.0f, weight_.data(), in_, grad_y.data(), out_,
            0.0f, grad_x->data(), in_);
}

}  // namespace elman
