// The losses: a fused functor writes per-element (MSE) or per-row (cross-entropy) losses and the
// gradient; one GEMM with a vector of ones adds their mean into a device scalar.
#include "elman/loss.h"

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "kernels/train/train_ops.h"

namespace elman {
namespace {

using detail::Trans;

void check_on(const char* call, const char* name, const Tensor& t, Device device) {
  if (!t.defined()) throw Error(std::string(call) + ": " + name + " is undefined");
  if (t.device() != device)
    throw Error(std::string(call) + ": " + name + " is on " + t.device().str() +
                ", the context on " + device.str());
}

// loss_sum[0] += alpha * sum(values[0..n)): a 1 x 1 GEMM over n, on the device.
void add_sum(detail::Backend& be, const float* values, int64_t n, float alpha, Tensor& ones,
             float* loss_sum) {
  if (!ones.defined() || ones.device() != be.device() || ones.numel() < n) {
    ones = Tensor::empty({n}, be.device());  // filled once per size, not per call
    detail::run(be, detail::Fill{ones.data(), n, 1.0f});
  }
  be.gemm(Trans::kT, Trans::kN, 1, 1, n, alpha, values, n, ones.data(), n, 1.0f, loss_sum, 1);
}

void check_sum(const char* call, const Tensor* loss_sum, Device device) {
  if (!loss_sum) return;
  check_on(call, "loss_sum", *loss_sum, device);
  if (loss_sum->numel() != 1)
    throw Error(std::string(call) + ": loss_sum has shape " + shape_str(loss_sum->shape()) +
                ", expected [1]");
}

// The aliasing rule (README): the gradient written in place and the loss sum accumulated into
// may not share memory with the inputs or with each other. Marks the loss sum as written.
void check_loss_results(const char* call, const detail::NamedTensor& grad, const Shape& shape,
                        Device device, const detail::NamedTensor& in,
                        const detail::NamedTensor& target, Tensor* loss_sum) {
  const Tensor none;
  const Tensor& sum = loss_sum ? *loss_sum : none;
  detail::check_no_overlap(call, grad, shape, device, {in, target, {"loss_sum", sum}});
  if (!loss_sum) return;
  detail::check_no_overlap(call, {"loss_sum", sum}, sum.shape(), device, {in, target});
  loss_sum->mark_modified();
}

double read_back(Context& ctx, Tensor& sum) {
  detail::ensure_result(sum, {1}, ctx.device());
  return sum.to_vector()[0];
}

}  // namespace

void MSELoss::forward_backward(Context& ctx, const Tensor& pred, const Tensor& target,
                               Tensor& grad_pred, Tensor* loss_sum, float weight) {
  constexpr const char* kCall = "MSELoss";
  const Device device = ctx.device();
  check_on(kCall, "pred", pred, device);
  check_on(kCall, "target", target, device);
  if (pred.shape() != target.shape())
    throw Error(std::string(kCall) + ": target has shape " + shape_str(target.shape()) +
                ", expected the shape of pred " + shape_str(pred.shape()));
  check_sum(kCall, loss_sum, device);
  check_loss_results(kCall, {"grad_pred", grad_pred}, pred.shape(), device, {"pred", pred},
                     {"target", target}, loss_sum);
  detail::ensure_result(grad_pred, pred.shape(), device);
  const int64_t n = pred.numel();
  if (n == 0) return;
  detail::Backend& be = ctx.backend();
  Tensor sq = detail::ensure_buffer(sq_, {n}, device);
  detail::run(be, detail::MseLossGrad{pred.data(), target.data(), grad_pred.data(), sq.data(), n,
                                      2.0f / static_cast<float>(n)});
  if (loss_sum) add_sum(be, sq.data(), n, weight / static_cast<float>(n), ones_, loss_sum->data());
}

double MSELoss::value(Context& ctx, const Tensor& pred, const Tensor& target) {
  detail::ensure_result(sum_scratch_, {1}, ctx.device());
  detail::run(ctx.backend(), detail::Fill{sum_scratch_.data(), 1, 0.0f});
  forward_backward(ctx, pred, target, grad_scratch_, &sum_scratch_);
  return read_back(ctx, sum_scratch_);
}

void CrossEntropyLoss::forward_backward(Context& ctx, const Tensor& logits, const Tensor& targets,
                                        Tensor& grad_logits, Tensor* loss_sum, float weight) {
  constexpr const char* kCall = "CrossEntropyLoss";
  const Device device = ctx.device();
  check_on(kCall, "logits", logits, device);
  check_on(kCall, "targets", targets, device);
  if (logits.dim() != 2 || logits.size(1) < 1)
    throw Error(std::string(kCall) + ": logits has shape " + shape_str(logits.shape()) +
                ", expected [N, C] with C >= 1");
  const int64_t rows = logits.size(0), classes = logits.size(1);
  if (targets.numel() != rows)
    throw Error(std::string(kCall) + ": targets has shape " + shape_str(targets.shape()) +
                ", expected [" + std::to_string(rows) + "] (one class index per row of logits)");
  check_sum(kCall, loss_sum, device);
  check_loss_results(kCall, {"grad_logits", grad_logits}, logits.shape(), device,
                     {"logits", logits}, {"targets", targets}, loss_sum);
  detail::ensure_result(grad_logits, logits.shape(), device);
  if (rows == 0) return;
  detail::Backend& be = ctx.backend();
  Tensor row_loss = detail::ensure_buffer(row_loss_, {rows}, device);
  detail::run(be, detail::SoftmaxCrossEntropy{logits.data(), targets.data(), grad_logits.data(),
                                              row_loss.data(), rows, classes,
                                              1.0f / static_cast<float>(rows)});
  if (loss_sum)
    add_sum(be, row_loss.data(), rows, weight / static_cast<float>(rows), ones_, loss_sum->data());
}

double CrossEntropyLoss::value(Context& ctx, const Tensor& logits, const Tensor& targets) {
  detail::ensure_result(sum_scratch_, {1}, ctx.device());
  detail::run(ctx.backend(), detail::Fill{sum_scratch_.data(), 1, 0.0f});
  forward_backward(ctx, logits, targets, grad_scratch_, &sum_scratch_);
  return read_back(ctx, sum_scratch_);
}

}  // namespace elman
