// PyTorch's unbatched input as a batch of one: views of the caller's tensors (host/unbatched.h).
#include "host/unbatched.h"

#include <string>

#include "elman/error.h"
#include "host/shape_checks.h"

namespace elman::detail {
namespace {

// `t` with a batch dimension of one inserted at `batch_dim`; undefined stays undefined.
Tensor with_batch_of_one(const Tensor& t, int batch_dim) {
  if (!t.defined()) return t;
  Shape shape = t.shape();
  shape.insert(shape.begin() + batch_dim, 1);
  return t.reshape(shape);
}

// The caller's result viewed with a batch of one where it has `shape` already (so it is
// written in place), else undefined (the batched call then allocates it).
Tensor result_view(const Tensor& user, const Shape& shape, int batch_dim) {
  if (!user.defined() || user.shape() != shape) return Tensor();
  Shape batched = shape;
  batched.insert(batched.begin() + batch_dim, 1);
  return user.reshape(batched);
}

// `t` (a batched result) with its batch dimension of one removed.
Tensor without_batch(const Tensor& t, int batch_dim) {
  Shape shape = t.shape();
  shape.erase(shape.begin() + batch_dim);
  return t.reshape(shape);
}

int time_major_batch_dim(const RNNOptions& o) { return o.batch_first ? 0 : 1; }

}  // namespace

UnbatchedForward::UnbatchedForward(const char* call, const RNNOptions& o, Device device,
                                   const Tensor& in, const Tensor& state, const RNNOutput& user)
    : batch_dim(time_major_batch_dim(o)) {
  // Checked here, in the caller's shapes: the batched code would name the inserted dimension.
  const int64_t T = in.size(0), S = o.num_layers * o.num_directions();
  if (in.size(1) != o.input_size || T < 1)
    throw Error(std::string(call) + ": input has shape " + shape_str(in.shape()) +
                ", expected unbatched [T, " + std::to_string(o.input_size) + "] with T >= 1" +
                " (input_size = " + std::to_string(o.input_size) + ")");
  check_tensor(call, "h0 (the input is unbatched)", state, {S, o.hidden_size}, device, true);
  input = with_batch_of_one(in, batch_dim);
  h0 = with_batch_of_one(state, 1);
  result.output = result_view(user.output, {T, o.num_directions() * o.hidden_size}, batch_dim);
  result.h_n = result_view(user.h_n, {S, o.hidden_size}, 1);
}

void UnbatchedForward::finish(RNNOutput& user) const {
  user.output = without_batch(result.output, batch_dim);
  user.h_n = without_batch(result.h_n, 1);
}

UnbatchedBackward::UnbatchedBackward(const char* call, const RNNOptions& o, Device device,
                                     int64_t seq_len, const Tensor& grad_out,
                                     const Tensor& grad_state, const RNNInputGrads& user)
    : batch_dim(time_major_batch_dim(o)) {
  const int64_t S = o.num_layers * o.num_directions();
  check_tensor(call, "grad_output (the input was unbatched)", grad_out,
               {seq_len, o.num_directions() * o.hidden_size}, device, true);
  check_tensor(call, "grad_h_n (the input was unbatched)", grad_state, {S, o.hidden_size}, device,
               true);
  grad_output = with_batch_of_one(grad_out, batch_dim);
  grad_h_n = with_batch_of_one(grad_state, 1);
  result.grad_input = result_view(user.grad_input, {seq_len, o.input_size}, batch_dim);
  result.grad_h0 = result_view(user.grad_h0, {S, o.hidden_size}, 1);
}

void UnbatchedBackward::finish(RNNInputGrads& user) const {
  user.grad_input = without_batch(result.grad_input, batch_dim);
  user.grad_h0 = without_batch(result.grad_h0, 1);
}

}  // namespace elman::detail
