// The optimizers and the gradient clipper: per-step constants (bias corrections, the first-step
// flag) are computed on the host from the step count; the element updates run as device ops.
#include "elman/optim.h"

#include <cmath>
#include <string>

#include "elman/error.h"
#include "host/backend.h"
#include "kernels/train/train_ops.h"

namespace elman {

namespace {

void check_finite_nonneg(const char* call, const char* name, float value) {
  if (!std::isfinite(value) || value < 0.0f)
    throw Error(std::string(call) + ": " + name + " must be a finite value >= 0, got " +
                std::to_string(value));
}

}  // namespace

Optimizer::Optimizer(const Context& ctx, float lr) : ctx_(ctx), lr_(lr) {
  check_finite_nonneg("Optimizer", "lr", lr);
}
Optimizer::~Optimizer() = default;

void Optimizer::set_learning_rate(float lr) {
  check_finite_nonneg("Optimizer::set_learning_rate", "lr", lr);
  lr_ = lr;
}

void Optimizer::add_parameters(const Tensor& params, const Tensor& grads) {
  const Device device = ctx_.device();
  if (!params.defined() || !grads.defined())
    throw Error("Optimizer::add_parameters: params or grads is undefined");
  if (params.shape() != grads.shape())
    throw Error("Optimizer::add_parameters: grads has shape " + shape_str(grads.shape()) +
                ", expected the shape of params " + shape_str(params.shape()));
  if (params.device() != device || grads.device() != device)
    throw Error("Optimizer::add_parameters: buffers on " + params.device().str() + " / " +
                grads.device().str() + ", the optimizer's context on " + device.str());
  Group g;
  g.params = params;
  g.grads = grads;
  for (int k = 0; k < state_count(); ++k) g.state[k] = Tensor::zeros(params.shape(), device);
  groups_.push_back(std::move(g));
}

std::vector<const char*> Optimizer::state_names() const {
  std::vector<const char*> names;
  for (int k = 0; k < state_count(); ++k) names.push_back(state_name(k));
  return names;
}

Tensor& Optimizer::state(int64_t group, int k) {
  if (group < 0 || group >= group_count() || k < 0 || k >= state_count())
    throw Error("Optimizer::state: no state " + std::to_string(k) + " of group " +
                std::to_string(group) + " (" + std::to_string(group_count()) + " groups, " +
                std::to_string(state_count()) + " states each)");
  return groups_[static_cast<size_t>(group)].state[k];
}

void Optimizer::set_step_count(int64_t steps) {
  if (steps < 0)
    throw Error("Optimizer::set_step_count: steps must be >= 0, got " + std::to_string(steps));
  steps_ = steps;
}

bool Optimizer::holds(const Tensor& params) const {
  for (const Group& g : groups_)
    if (g.params.is_same(params)) return true;
  return false;
}

void Optimizer::step() {
  if (groups_.empty())
    throw Error(std::string(kind()) +
                " optimizer: step() with no parameters (add_parameters "
                "registers a model's flat_parameters() and flat_grads())");
  ++steps_;
  for (Group& g : groups_) {
    if (g.params.numel() == 0) continue;
    g.params.mark_modified();  // written in place (Tensor::version())
    for (Tensor& s : g.state)
      if (s.defined()) s.mark_modified();
    update(g);
  }
}

void Optimizer::zero_grad() {
  for (Group& g : groups_) {
    g.grads.mark_modified();
    detail::run(ctx_.backend(), detail::Fill{g.grads.data(), g.grads.numel(), 0.0f});
  }
}

SGD::SGD(const Context& ctx, const SGDOptions& o) : Optimizer(ctx, o.lr), options_(o) {
  check_finite_nonneg("SGD", "momentum", o.momentum);
  check_finite_nonneg("SGD", "dampening", o.dampening);
  check_finite_nonneg("SGD", "weight_decay", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0.0f || o.dampening != 0.0f))
    throw Error("SGD: nesterov requires momentum > 0 and dampening = 0, got momentum " +
                std::to_string(o.momentum) + ", dampening " + std::to_string(o.dampening));
}

void SGD::update(Group& g) {
  detail::run(ctx_.backend(),
              detail::SgdUpdate{g.params.data(), g.grads.data(),
                                g.state[0].defined() ? g.state[0].data() : nullptr,
                                g.params.numel(), lr_, options_.momentum, options_.dampening,
                                options_.weight_decay, options_.nesterov, step_count() == 1});
}

Adam::Adam(const Context& ctx, const AdamOptions& o) : Adam(ctx, o, false) {}

Adam::Adam(const Context& ctx, const AdamOptions& o, bool decoupled)
    : Optimizer(ctx, o.lr), options_(o), decoupled_(decoupled) {
  const char* name = decoupled ? "AdamW" : "Adam";
  if (!(o.beta1 >= 0.0f && o.beta1 < 1.0f))
    throw Error(std::string(name) + ": beta1 must be in [0, 1), got " + std::to_string(o.beta1));
  if (!(o.beta2 >= 0.0f && o.beta2 < 1.0f))
    throw Error(std::string(name) + ": beta2 must be in [0, 1), got " + std::to_string(o.beta2));
  check_finite_nonneg(name, "eps", o.eps);
  check_finite_nonneg(name, "weight_decay", o.weight_decay);
}

void Adam::update(Group& g) {
  const double t = static_cast<double>(step_count());
  const double bc1 = 1.0 - std::pow(static_cast<double>(options_.beta1), t);
  const double bc2 = 1.0 - std::pow(static_cast<double>(options_.beta2), t);
  detail::run(
      ctx_.backend(),
      detail::AdamUpdate{g.params.data(), g.grads.data(), g.state[0].data(), g.state[1].data(),
                         g.params.numel(), lr_, options_.beta1, options_.beta2, options_.eps,
                         options_.weight_decay, decoupled_, static_cast<float>(lr_ / bc1),
                         static_cast<float>(std::sqrt(bc2))});
}

AdamW::AdamW(const Context& ctx, const AdamWOptions& o) : Adam(ctx, o, true) {}

GradNormClipper::GradNormClipper(const Context& ctx, float max_norm)
    : ctx_(ctx), max_norm_(max_norm), norm_sq_(Tensor::zeros({1}, ctx.device())) {
  if (!std::isfinite(max_norm) || max_norm <= 0.0f)
    throw Error("GradNormClipper: max_norm must be a finite value > 0, got " +
                std::to_string(max_norm));
}

void GradNormClipper::clip(const std::vector<Tensor>& grads) {
  detail::Backend& be = ctx_.backend();
  const Device device = ctx_.device();
  for (const Tensor& g : grads)
    if (!g.defined() || g.device() != device)
      throw Error("GradNormClipper::clip: a gradient is undefined or not on " + device.str());
  // norm_sq = sum over buffers of g . g, each a 1 x 1 GEMM accumulating into the device scalar.
  detail::run(be, detail::Fill{norm_sq_.data(), 1, 0.0f});
  for (const Tensor& g : grads) {
    const int64_t n = g.numel();
    if (n == 0) continue;
    be.gemm(detail::Trans::kT, detail::Trans::kN, 1, 1, n, 1.0f, g.data(), n, g.data(), n, 1.0f,
            norm_sq_.data(), 1);
  }
  for (Tensor g : grads) {  // a shallow copy: the same storage, written in place
    const int64_t n = g.numel();
    if (n == 0) continue;
    g.mark_modified();
    detail::run(be, detail::ClipByNorm{g.data(), n, norm_sq_.data(), max_norm_});
  }
}

double GradNormClipper::last_total_norm() { return std::sqrt(norm_sq_.to_vector()[0]); }

double clip_grad_norm(Context& ctx, const std::vector<Tensor>& grads, float max_norm) {
  GradNormClipper clipper(ctx, max_norm);
  clipper.clip(grads);
  return clipper.last_total_norm();
}

}  // namespace elman
