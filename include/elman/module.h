// elman::Module: what every layer (RNN, Linear, Embedding) shares with torch.nn.Module's
// parameter API: its context, its parameters by state_dict name as views of one flat buffer,
// their gradients as views of another, set_parameter and zero_grad; and the refusal of a
// moved-from layer.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "elman/context.h"
#include "elman/tensor.h"

namespace elman {

class Module {
 public:
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  Context& context() { return ctx_; }
  const Context& context() const { return ctx_; }

  // PyTorch's state_dict names, in the flat buffers' order.
  const std::vector<std::string>& parameter_names() const { return names_; }
  // Views of the layer's storage. They are const handles so that assigning to them cannot
  // detach them from the layer; their values change through set_parameter (or copy_from on a
  // copy of the handle: Tensor p = layer.parameter(n); p.copy_from(values)). An unknown name
  // is an elman::Error that lists the known ones.
  const Tensor& parameter(const std::string& name) const;
  const Tensor& grad(const std::string& name) const;
  std::vector<Tensor> parameters() const { return params_; }
  std::vector<Tensor> grads() const { return grads_; }
  // Copies `values` (exactly the parameter's shape, any device) into parameter `name`.
  void set_parameter(const std::string& name, const Tensor& values);
  // All parameters (and all gradients) in one contiguous buffer, in parameter_names() order:
  // what an Optimizer is given.
  const Tensor& flat_parameters() const { return flat_params_; }
  const Tensor& flat_grads() const { return flat_grads_; }
  // grad() = 0 for every parameter (PyTorch's zero_grad(set_to_none=False)).
  void zero_grad();

 protected:
  // `kind` names the layer in error messages ("Linear" gives "Linear::parameter: ...").
  Module(const Context& ctx, const char* kind) : ctx_(ctx), kind_(kind) {}
  // The moved-from layer keeps its context and kind, and refuses every later call.
  Module(Module&& other) noexcept;
  ~Module() = default;

  // Takes the layer's flat buffers (values already initialised, gradients zero) and makes one
  // view of each, in order: parameter i has shapes[i].second elements at the offset where
  // parameter i - 1 ends.
  void adopt_parameters(Tensor flat_params, Tensor flat_grads,
                        const std::vector<std::pair<std::string, Shape>>& shapes);
  // Throws elman::Error naming `call` on a moved-from layer.
  void check_usable(const char* call) const;
  // Parameter i, for a layer's named accessors (weight(), bias()); `call` as check_usable's.
  const Tensor& parameter_at(const char* call, size_t i) const {
    check_usable(call);
    return params_[i];
  }

  std::vector<Tensor> params_, grads_;  // the views, in parameter_names() order

 private:
  size_t index_of(const char* call, const std::string& name) const;
  Context ctx_;
  const char* kind_;
  bool moved_from_ = false;
  std::vector<std::string> names_;
  Tensor flat_params_, flat_grads_;
};

}  // namespace elman
