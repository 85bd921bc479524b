// make_param_layout: torch.nn.RNN's _flat_weights order, one (layer, direction) at a time.
#include "host/param_layout.h"

#include "host/checked_size.h"

namespace elman::detail {

ParamLayout make_param_layout(const RNNOptions& options) {
  options.validate();
  ParamLayout layout;
  const int64_t H = options.hidden_size, D = options.num_directions();
  auto add = [&](const std::string& name, Shape shape) {
    const int64_t offset = layout.total;
    layout.total = checked_add(layout.total, shape_numel(shape), "RNN parameters");
    layout.entries.push_back({name, std::move(shape), offset});
    return offset;
  };
  for (int64_t l = 0; l < options.num_layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      CellOffsets cell{-1, -1, -1, -1};
      cell.w_ih = add("weight_ih" + suffix, {H, options.layer_input_size(l)});
      cell.w_hh = add("weight_hh" + suffix, {H, H});
      if (options.bias) {
        cell.b_ih = add("bias_ih" + suffix, {H});
        cell.b_hh = add("bias_hh" + suffix, {H});
      }
      layout.cells.push_back(cell);
    }
  }
  return layout;
}

}  // namespace elman::detail
