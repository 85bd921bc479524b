// elman::Module: the parameter API the layers share (include/elman/module.h).
#include "elman/module.h"

#include "elman/error.h"
#include "host/backend.h"
#include "kernels/copy_ops.h"

namespace elman {

Module::Module(Module&& other) noexcept
    : params_(std::move(other.params_)),
      grads_(std::move(other.grads_)),
      ctx_(other.ctx_),
      kind_(other.kind_),
      moved_from_(other.moved_from_),  // moving a moved-from layer moves nothing usable
      names_(std::move(other.names_)),
      flat_params_(std::move(other.flat_params_)),
      flat_grads_(std::move(other.flat_grads_)) {
  other.moved_from_ = true;
}

void Module::adopt_parameters(Tensor flat_params, Tensor flat_grads,
                              const std::vector<std::pair<std::string, Shape>>& shapes) {
  flat_params_ = std::move(flat_params);
  flat_grads_ = std::move(flat_grads);
  int64_t offset = 0;
  for (const auto& [name, shape] : shapes) {
    names_.push_back(name);
    params_.push_back(flat_params_.view(shape, offset));
    grads_.push_back(flat_grads_.view(shape, offset));
    offset += params_.back().numel();
  }
}

void Module::check_usable(const char* call) const {
  if (moved_from_)
    throw Error(std::string(call) + ": this " + kind_ + " was moved from; use the " + kind_ +
                " it was moved into");
}

size_t Module::index_of(const char* call, const std::string& name) const {
  const std::string where = std::string(kind_) + "::" + call;
  check_usable(where.c_str());
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return i;
  std::string known;
  for (const auto& n : names_) known += (known.empty() ? "" : ", ") + n;
  throw Error(where + ": no parameter named '" + name + "' (parameters: " + known + ")");
}

const Tensor& Module::parameter(const std::string& name) const {
  return params_[index_of("parameter", name)];
}

const Tensor& Module::grad(const std::string& name) const { return grads_[index_of("grad", name)]; }

void Module::set_parameter(const std::string& name, const Tensor& values) {
  Tensor p = params_[index_of("set_parameter", name)];
  const std::string call = std::string(kind_) + "::set_parameter";
  if (!values.defined()) throw Error(call + ": values for '" + name + "' are undefined");
  if (values.shape() != p.shape())
    throw Error(call + ": values for '" + name + "' have shape " + shape_str(values.shape()) +
                ", expected " + shape_str(p.shape()));
  p.copy_from(values);
}

void Module::zero_grad() {
  check_usable((std::string(kind_) + "::zero_grad").c_str());
  flat_grads_.mark_modified();
  detail::run(detail::backend_of(ctx_),
              detail::Fill{flat_grads_.data(), flat_grads_.numel(), 0.0f});
}

}  // namespace elman
