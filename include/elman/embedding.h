// elman::Embedding: torch.nn.Embedding (parameter `weight` [num_embeddings, embedding_dim],
// drawn from N(0, 1), optional padding_idx): token ids in, their rows out, the gradient by
// scatter-add. A token input then costs one row copy, not a one-hot row through a GEMM.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "elman/context.h"
#include "elman/index_tensor.h"
#include "elman/module.h"
#include "elman/tensor.h"

namespace elman {

class Embedding : public Module {
 public:
  // The table on ctx's device, every value from N(0, 1) (std::mt19937_64(seed), Box-Muller), the
  // padding row, if any, zero, as nn.Embedding's reset_parameters does. padding_idx may count
  // from the end (-1 is the last row), as in PyTorch; outside [-num, num) is an elman::Error.
  Embedding(const Context& ctx, int64_t num_embeddings, int64_t embedding_dim,
            std::optional<int64_t> padding_idx = std::nullopt, uint64_t seed = 0);
  // A moved-from Embedding throws elman::Error from every call that computes.
  Embedding(Embedding&& other) noexcept = default;

  int64_t num_embeddings() const { return num_; }
  int64_t embedding_dim() const { return dim_; }
  // The padding row, made non-negative; its gradient is always 0, so training never moves it.
  std::optional<int64_t> padding_idx() const { return padding_idx_; }

  // Parameters (Module): "weight", as nn.Embedding's state_dict names it.
  const Tensor& weight() const {
    return parameter_at("Embedding::weight", 0);
  }  // [num_embeddings, embedding_dim]

  // out[..., :] = weight[ids[...], :]: ids of any shape S on this device give out [S..., dim],
  // written in place when it has that shape on this device, else replaced (it may not share
  // memory with the weight or its gradient). An id >= num_embeddings is an elman::Error that
  // names it (known without a device read: IndexTensor keeps its values).
  void forward_into(const IndexTensor& ids, Tensor& out);
  Tensor forward(const IndexTensor& ids);
  // Accumulates weight.grad[ids[p], :] += grad_out[p, :] over every position p (like PyTorch's
  // .grad), except the padding row. grad_out: [S..., dim] for the ids' shape S. Deterministic:
  // the same sums in the same order on every run and device.
  void backward(const IndexTensor& ids, const Tensor& grad_out);

 private:
  void check_ids(const char* call, const IndexTensor& ids) const;
  int64_t num_, dim_;
  std::optional<int64_t> padding_idx_;
};

}  // namespace elman
