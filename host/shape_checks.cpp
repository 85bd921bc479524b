// The RNN's argument checks and the shapes of its results.
#include "host/shape_checks.h"

#include "elman/error.h"

namespace elman::detail {

static void check_device(const char* call, const char* name, const Tensor& t, Device device) {
  if (t.device() != device)
    throw Error(std::string(call) + ": " + name + " is on " + t.device().str() + ", expected " +
                device.str() + " (the model's device; move it with .to())");
}

SequenceDims check_input(const char* call, const RNNOptions& o, const Tensor& input,
                         Device device) {
  if (!input.defined()) throw Error(std::string(call) + ": input is undefined");
  const std::string I = std::to_string(o.input_size);
  const std::string expected =
      (o.batch_first ? "[B, T, " + I + "]" : "[T, B, " + I + "]") + " or unbatched [T, " + I + "]";
  if (input.dim() != 3 || input.size(2) != o.input_size)
    throw Error(std::string(call) + ": input has shape " + shape_str(input.shape()) +
                ", expected " + expected + " (input_size = " + std::to_string(o.input_size) +
                (o.batch_first ? ", batch_first = true)" : ", batch_first = false)"));
  check_device(call, "input", input, device);
  SequenceDims dims;
  dims.seq_len = input.size(o.batch_first ? 1 : 0);
  dims.batch = input.size(o.batch_first ? 0 : 1);
  if (dims.seq_len < 1)
    throw Error(std::string(call) + ": input has shape " + shape_str(input.shape()) +
                ", expected a sequence length T >= 1");
  return dims;
}

void check_tensor(const char* call, const char* name, const Tensor& t, const Shape& expected,
                  Device device, bool optional) {
  if (!t.defined()) {
    if (optional) return;
    throw Error(std::string(call) + ": " + name + " is undefined, expected shape " +
                shape_str(expected));
  }
  if (t.shape() != expected)
    throw Error(std::string(call) + ": " + name + " has shape " + shape_str(t.shape()) +
                ", expected " + shape_str(expected));
  check_device(call, name, t, device);
}

Shape output_shape(const RNNOptions& o, SequenceDims dims) {
  const int64_t width = o.num_directions() * o.hidden_size;
  return o.batch_first ? Shape{dims.batch, dims.seq_len, width}
                       : Shape{dims.seq_len, dims.batch, width};
}

Shape state_shape(const RNNOptions& o, SequenceDims dims) {
  return {o.num_layers * o.num_directions(), dims.batch, o.hidden_size};
}

}  // namespace elman::detail
