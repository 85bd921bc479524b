// The parameter operations the layers share (host/parameter_ops.h).
#include "host/parameter_ops.h"

#include "elman/error.h"
#include "host/backend.h"
#include "kernels/copy_ops.h"

namespace elman::detail {

void copy_into_parameter(const char* call, const std::string& name, Tensor p,
                         const Tensor& values) {
  if (!values.defined())
    throw Error(std::string(call) + ": values for '" + name + "' are undefined");
  if (values.shape() != p.shape())
    throw Error(std::string(call) + ": values for '" + name + "' have shape " +
                shape_str(values.shape()) + ", expected " + shape_str(p.shape()));
  p.copy_from(values);
}

void zero_flat_grads(const Context& ctx, Tensor grads) {
  grads.mark_modified();
  run(backend_of(ctx), Fill{grads.data(), grads.numel(), 0.0f});
}

}  // namespace elman::detail
