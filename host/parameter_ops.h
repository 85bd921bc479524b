// What every layer's parameter API (RNN, Linear, Embedding) does alike: a checked copy into one
// parameter, and zeroing the flat gradient buffer.
#pragma once

#include <string>

#include "elman/context.h"
#include "elman/tensor.h"

namespace elman::detail {

// Copies `values` into the parameter view `p` named `name`; refuses (elman::Error prefixed by
// `call`, e.g. "Linear::set_parameter") undefined values or another shape, changing nothing.
void copy_into_parameter(const char* call, const std::string& name, Tensor p, const Tensor& values);

// grads = 0 on ctx's device, counted as a write (Tensor::version()).
void zero_flat_grads(const Context& ctx, Tensor grads);

}  // namespace elman::detail
