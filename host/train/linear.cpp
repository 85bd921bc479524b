// elman::Linear: nn.Linear's parameters in one flat buffer, its initialisation, and forward /
// backward as the named products of host/products.h (the RNN's, with out_features as H).
#include "elman/linear.h"

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/checked_size.h"
#include "host/init.h"
#include "host/products.h"
#include "kernels/train/train_ops.h"

namespace elman {

Linear::Linear(const Context& ctx, int64_t in_features, int64_t out_features, uint64_t seed)
    : Module(ctx, "Linear"), in_(in_features), out_(out_features) {
  if (in_features <= 0)
    throw Error("Linear: in_features must be positive, got " + std::to_string(in_features));
  if (out_features <= 0)
    throw Error("Linear: out_features must be positive, got " + std::to_string(out_features));
  const std::string call =
      "Linear(" + std::to_string(in_features) + ", " + std::to_string(out_features) + ")";
  const int64_t weights = detail::checked_mul(out_, in_, call + ": weight");
  const int64_t total = detail::checked_add(weights, out_, call + ": parameters");
  Tensor params, grads;
  try {
    params = Tensor::empty({total}, ctx.device());
    grads = Tensor::zeros({total}, ctx.device());
  } catch (const Error& e) {
    throw Error(call + ": " + e.what());
  }
  // kaiming_uniform_(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in); the
  // bias uses the same bound. Same generator and mapping as the RNN's initialisation.
  detail::init_uniform(params, in_, seed);
  adopt_parameters(params, grads, {{"weight", {out_, in_}}, {"bias", {out_}}});
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
  const Device device = context().device();
  const int64_t n = rows_of(kCall, "x", x, in_, device);
  detail::check_no_overlap(kCall, {"y", y}, {n, out_}, device,
                           {{"x", x},
                            {"the layer's parameters", flat_parameters()},
                            {"the layer's gradients", flat_grads()}});
  detail::ensure_result(y, {n, out_}, device);
  if (n == 0) return;
  detail::Backend& be = detail::backend_of(context());
  detail::run(be, detail::BroadcastRows{bias().data(), y.data(), n, out_});
  detail::input_projection(be, y.data(), x.data(), in_, weight().data(), n, in_, out_, true);
}

Tensor Linear::forward(const Tensor& x) {
  Tensor y;
  forward_into(x, y);
  return y;
}

void Linear::backward_into(const Tensor& x, const Tensor& grad_y, Tensor* grad_x) {
  constexpr const char* kCall = "Linear::backward";
  check_usable(kCall);
  const Device device = context().device();
  const int64_t n = rows_of(kCall, "x", x, in_, device);
  const int64_t ng = rows_of(kCall, "grad_y", grad_y, out_, device);
  if (ng != n)
    throw Error("Linear::backward: grad_y has shape " + shape_str(grad_y.shape()) + ", expected [" +
                std::to_string(n) + ", " + std::to_string(out_) + "] (one row per row of x)");
  if (grad_x) {
    detail::check_no_overlap(kCall, {"grad_x", *grad_x}, {n, in_}, device,
                             {{"x", x},
                              {"grad_y", grad_y},
                              {"the layer's parameters", flat_parameters()},
                              {"the layer's gradients", flat_grads()}});
    detail::ensure_result(*grad_x, {n, in_}, device);
  }
  Tensor grads = flat_grads();  // accumulated into: a write (Tensor::version())
  grads.mark_modified();
  if (n == 0) return;
  detail::Backend& be = detail::backend_of(context());
  if (!ones_.defined() || ones_.device() != device || ones_.numel() < n) {
    ones_ = Tensor::empty({n}, device);  // filled once per size, not per call
    detail::run(be, detail::Fill{ones_.data(), n, 1.0f});
  }
  // dW += sum_r grad_y[r, :] x[r, :]^T, db += sum_r grad_y[r, :], grad_x[r, :] = W^T grad_y[r, :].
  detail::weight_gradient(be, grads.data(), grad_y.data(), out_, x.data(), in_, n, out_, in_);
  detail::bias_gradient(be, grads.data() + out_ * in_, grad_y.data(), out_, ones_.data(), n, out_);
  if (grad_x)
    detail::input_gradient(be, grad_x->data(), grad_y.data(), out_, weight().data(), n, out_, in_,
                           false);
}

}  // namespace elman
