// Checkpoints of an RNN + Linear head in the safetensors format, under the state_dict names of
// PyTorch's `rnn = nn.RNN(...); fc = nn.Linear(...)` module: "rnn.weight_ih_l0", ..., "fc.bias",
// with "embedding.weight" first when the module starts with `embedding = nn.Embedding(...)`.
#pragma once

#include <map>
#include <string>

#include "elman/embedding.h"
#include "elman/linear.h"
#include "elman/rnn.h"
#include "elman/safetensors.h"

namespace elman {

// The checkpoint's tensors on the host: "rnn." + each RNN parameter name, "fc.weight", "fc.bias".
// Reads the parameters back from the device (synchronises).
TensorMap checkpoint_tensors(RNN& rnn, Linear& head);
// The same with "embedding.weight" (an Embedding -> RNN -> Linear model).
TensorMap checkpoint_tensors(Embedding& embedding, RNN& rnn, Linear& head);

// Writes the model atomically (see save_safetensors), with string metadata (elman writes the
// model's configuration there; PyTorch ignores it). Refuses (elman::Error naming the tensor)
// to write a NaN or an infinity: the previous file at `path`, if any, stays as it was.
void save_checkpoint(const std::string& path, RNN& rnn, Linear& head,
                     const std::map<std::string, std::string>& metadata = {});
void save_checkpoint(const std::string& path, Embedding& embedding, RNN& rnn, Linear& head,
                     const std::map<std::string, std::string>& metadata = {});

// Loads a checkpoint into an existing model, like load_state_dict(strict=True): every name must
// be present with exactly the model's shape, no other tensor may be there, and every value must
// be finite. All-or-nothing: on any failure (unreadable, truncated or corrupt file, missing or
// extra name, wrong shape) it throws elman::Error naming the file and the problem, and the
// model is unchanged. `metadata`, if given, receives the file's metadata. A training checkpoint
// (Trainer::save_checkpoint, metadata elman_training_checkpoint "1") loads too: its
// "optimizer." tensors are ignored.
void load_checkpoint(const std::string& path, RNN& rnn, Linear& head,
                     std::map<std::string, std::string>* metadata = nullptr);
// The same for a model with an embedding: the file must hold "embedding.weight" too.
void load_checkpoint(const std::string& path, Embedding& embedding, RNN& rnn, Linear& head,
                     std::map<std::string, std::string>* metadata = nullptr);

// Only the metadata of a checkpoint (to build a model of the right shape before loading it).
std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path);

}  // namespace elman
