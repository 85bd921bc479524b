// plan_cudnn_weight_copy: elman's ParamLayout matched slot by slot against cuDNN's offsets.
#include "bench/cudnn_layout.h"

#include <algorithm>
#include <string>

#include "elman/error.h"
#include "host/param_layout.h"

namespace elman::bench {

std::vector<CopySpan> plan_cudnn_weight_copy(const RNNOptions& options,
                                             const std::vector<CudnnParamSlot>& slots,
                                             int64_t weight_space_floats) {
  const char* kFn = "plan_cudnn_weight_copy: ";
  if (!options.bias) throw Error(std::string(kFn) + "needs bias=True (CUDNN_RNN_DOUBLE_BIAS)");
  const detail::ParamLayout layout = detail::make_param_layout(options);
  const int cells = static_cast<int>(layout.cells.size());
  const int64_t H = options.hidden_size;
  std::vector<int> seen(static_cast<size_t>(cells) * 4, 0);
  std::vector<CopySpan> plan;
  for (const CudnnParamSlot& s : slots) {
    const std::string what = "slot (pseudo_layer " + std::to_string(s.pseudo_layer) + ", lin_id " +
                             std::to_string(s.lin_id) + (s.is_bias ? ", bias)" : ", matrix)");
    if (s.pseudo_layer < 0 || s.pseudo_layer >= cells || s.lin_id < 0 || s.lin_id > 1)
      throw Error(kFn + what + " does not exist for " + std::to_string(cells) +
                  " (layer, direction) cells and lin_id 0 or 1");
    int& count_seen = seen[static_cast<size_t>(s.pseudo_layer * 4 + s.lin_id * 2 + s.is_bias)];
    if (count_seen++) throw Error(kFn + what + " is reported twice");
    const int64_t layer = s.pseudo_layer / options.num_directions();
    const detail::CellOffsets& cell = layout.cells[static_cast<size_t>(s.pseudo_layer)];
    int64_t src = 0, expected = 0;
    if (s.is_bias) {
      src = s.lin_id == 0 ? cell.b_ih : cell.b_hh;
      expected = H;
    } else {
      src = s.lin_id == 0 ? cell.w_ih : cell.w_hh;
      expected = H * (s.lin_id == 0 ? options.layer_input_size(layer) : H);
    }
    if (s.count != expected)
      throw Error(kFn + what + " holds " + std::to_string(s.count) + " floats, expected " +
                  std::to_string(expected));
    if (s.offset < 0 || s.offset + s.count > weight_space_floats)
      throw Error(kFn + what + " at offset " + std::to_string(s.offset) + " runs past the weight " +
                  "space of " + std::to_string(weight_space_floats) + " floats");
    plan.push_back({src, s.offset, s.count});
  }
  for (size_t i = 0; i < seen.size(); ++i)
    if (!seen[i])
      throw Error(kFn + std::string("no slot for (pseudo_layer ") + std::to_string(i / 4) +
                  ", lin_id " + std::to_string((i / 2) % 2) + (i % 2 ? ", bias)" : ", matrix)"));
  std::vector<CopySpan> by_dst = plan;
  std::sort(by_dst.begin(), by_dst.end(),
            [](const CopySpan& a, const CopySpan& b) { return a.cudnn < b.cudnn; });
  for (size_t i = 1; i < by_dst.size(); ++i)
    if (by_dst[i - 1].cudnn + by_dst[i - 1].count > by_dst[i].cudnn)
      throw Error(kFn + std::string("slots at offsets ") + std::to_string(by_dst[i - 1].cudnn) +
                  " and " + std::to_string(by_dst[i].cudnn) + " overlap");
  return plan;
}

void copy_to_cudnn(const std::vector<CopySpan>& plan, const float* elman, float* cudnn) {
  for (const CopySpan& c : plan)
    std::copy(elman + c.elman, elman + c.elman + c.count, cudnn + c.cudnn);
}

void copy_from_cudnn(const std::vector<CopySpan>& plan, const float* cudnn, float* elman) {
  for (const CopySpan& c : plan)
    std::copy(cudnn + c.cudnn, cudnn + c.cudnn + c.count, elman + c.elman);
}

}  // namespace elman::bench
