// The model part of a checkpoint, shared by the model-only checkpoint (checkpoint.cpp) and the
// trainer's training checkpoint (trainer_checkpoint.cpp): validation first, then assignment.
#pragma once

#include <string>

#include "elman/embedding.h"
#include "elman/linear.h"
#include "elman/rnn.h"
#include "elman/safetensors.h"

namespace elman::detail {

// Throws elman::Error (prefixed by `call`) unless `file` holds exactly the model's tensors
// ("embedding.weight" with an embedding, "rnn." + parameter names, "fc.weight", "fc.bias") with the
// model's shapes and finite values; names starting with `other_prefix` (when not empty) are left to
// the caller. `embedding` may be null (a model without one: then "embedding.weight" is unexpected).
void check_model_tensors(const std::string& call, const TensorMap& file, const Embedding* embedding,
                         const RNN& rnn, const Linear& head, const std::string& other_prefix = "");

// Copies the (checked) model tensors of `file` into the model's flat buffers, one copy each.
void assign_model_tensors(const TensorMap& file, Embedding* embedding, RNN& rnn, Linear& head);

// Throws elman::Error naming the path and the tensor when `tensors` holds a NaN or an infinity.
void refuse_non_finite(const std::string& call, const std::string& path, const TensorMap& tensors);

}  // namespace elman::detail
