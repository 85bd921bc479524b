// Checkpoints: the model's parameters under PyTorch's state_dict names, through the safetensors
// reader and writer. A load is validated completely before the model is touched.
#include "elman/checkpoint.h"

#include <cmath>
#include <set>

#include "elman/error.h"
#include "host/param_layout.h"
#include "host/train/checkpoint_internal.h"

namespace elman {
namespace {

const char* const kRnnPrefix = "rnn.";
const char* const kHeadPrefix = "fc.";
const char* const kEmbeddingWeight = "embedding.weight";

// The model's expected tensors: name -> (shape, which flat buffer, where its values go there).
enum class Part { kEmbedding, kRnn, kHead };
struct Slot {
  Shape shape;
  Part part;
  int64_t offset;
};

std::map<std::string, Slot> expected_slots(const Embedding* embedding, const RNN& rnn,
                                           const Linear& head) {
  std::map<std::string, Slot> slots;
  if (embedding)
    slots[kEmbeddingWeight] = {
        {embedding->num_embeddings(), embedding->embedding_dim()}, Part::kEmbedding, 0};
  const detail::ParamLayout layout = detail::make_param_layout(rnn.options());
  for (const auto& e : layout.entries) slots[kRnnPrefix + e.name] = {e.shape, Part::kRnn, e.offset};
  const int64_t in = head.in_features(), out = head.out_features();
  slots[std::string(kHeadPrefix) + "weight"] = {{out, in}, Part::kHead, 0};
  slots[std::string(kHeadPrefix) + "bias"] = {{out}, Part::kHead, out * in};
  return slots;
}

}  // namespace

TensorMap checkpoint_tensors(Embedding& embedding, RNN& rnn, Linear& head) {
  TensorMap map = checkpoint_tensors(rnn, head);
  map[kEmbeddingWeight] = NamedArray{embedding.weight().shape(), embedding.weight().to_vector()};
  return map;
}

TensorMap checkpoint_tensors(RNN& rnn, Linear& head) {
  TensorMap map;
  for (const std::string& name : rnn.parameter_names()) {
    const Tensor& p = rnn.parameter(name);
    map[kRnnPrefix + name] = NamedArray{p.shape(), p.to_vector()};
  }
  for (const std::string& name : head.parameter_names()) {
    const Tensor& p = head.parameter(name);
    map[kHeadPrefix + name] = NamedArray{p.shape(), p.to_vector()};
  }
  return map;
}

void save_checkpoint(const std::string& path, RNN& rnn, Linear& head,
                     const std::map<std::string, std::string>& metadata) {
  const TensorMap tensors = checkpoint_tensors(rnn, head);
  detail::refuse_non_finite("save_checkpoint", path, tensors);
  save_safetensors(path, tensors, metadata);
}

void save_checkpoint(const std::string& path, Embedding& embedding, RNN& rnn, Linear& head,
                     const std::map<std::string, std::string>& metadata) {
  const TensorMap tensors = checkpoint_tensors(embedding, rnn, head);
  detail::refuse_non_finite("save_checkpoint", path, tensors);
  save_safetensors(path, tensors, metadata);
}

namespace detail {

void refuse_non_finite(const std::string& call, const std::string& path, const TensorMap& tensors) {
  const std::string bad = first_non_finite(tensors);
  if (!bad.empty())
    throw Error(call + ": '" + path + "': tensor '" + bad +
                "' holds a NaN or an infinity; a non-finite checkpoint is never written (the "
                "previous file, if any, is unchanged)");
}

void check_model_tensors(const std::string& call, const TensorMap& file, const Embedding* embedding,
                         const RNN& rnn, const Linear& head, const std::string& other_prefix) {
  const std::map<std::string, Slot> slots = expected_slots(embedding, rnn, head);
  // Lists of names in the message stop after a few: a hostile file may hold 200,000 of them.
  constexpr int kShown = 8;
  std::string missing, unexpected;
  int missing_count = 0, unexpected_count = 0;
  auto add = [&](std::string& list, int& count, const std::string& name) {
    if (count < kShown) list += (list.empty() ? "" : ", ") + name;
    if (++count == kShown + 1) list += ", ...";
  };
  for (const auto& [name, slot] : slots)
    if (!file.count(name)) add(missing, missing_count, name);
  for (const auto& [name, arr] : file) {
    if (slots.count(name)) continue;
    if (!other_prefix.empty() && name.compare(0, other_prefix.size(), other_prefix) == 0) continue;
    add(unexpected, unexpected_count, name.size() > 80 ? name.substr(0, 80) + "..." : name);
  }
  if (missing_count > kShown) missing += " (" + std::to_string(missing_count) + " in all)";
  if (unexpected_count > kShown) unexpected += " (" + std::to_string(unexpected_count) + " in all)";
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg = call + " does not match the model:";
    if (!missing.empty()) msg += " missing " + missing + ";";
    if (!unexpected.empty()) msg += " unexpected " + unexpected + ";";
    msg += " (the model is " + nonlinearity_name(rnn.options().nonlinearity) + " RNN with " +
           std::to_string(rnn.options().num_layers) + " layer(s)" +
           (rnn.options().bidirectional ? ", bidirectional" : "") +
           (embedding ? ", after an embedding" : ", without an embedding") + ")";
    throw Error(msg);
  }
  for (const auto& [name, slot] : slots) {
    const NamedArray& arr = file.at(name);
    if (arr.shape != slot.shape)
      throw Error(call + ": tensor '" + name + "' has shape " + shape_str(arr.shape) +
                  ", the model expects " + shape_str(slot.shape));
    if (static_cast<int64_t>(arr.values.size()) != shape_numel(slot.shape))
      throw Error(call + ": tensor '" + name + "' holds " + std::to_string(arr.values.size()) +
                  " values for shape " + shape_str(slot.shape));
    for (size_t i = 0; i < arr.values.size(); ++i)
      if (!std::isfinite(arr.values[i]))
        throw Error(call + ": tensor '" + name + "' has a non-finite value at index " +
                    std::to_string(i));
  }
}

void assign_model_tensors(const TensorMap& file, Embedding* embedding, RNN& rnn, Linear& head) {
  // Assemble each flat buffer on the host, then copy each to the device in one move.
  const std::map<std::string, Slot> slots = expected_slots(embedding, rnn, head);
  std::vector<Tensor> buffers = {embedding ? embedding->flat_parameters() : Tensor(),
                                 rnn.flat_parameters(), head.flat_parameters()};  // handles
  std::vector<std::vector<float>> flat(buffers.size());
  for (size_t b = 0; b < buffers.size(); ++b)
    flat[b].resize(static_cast<size_t>(buffers[b].numel()));
  for (const auto& [name, slot] : slots) {
    const NamedArray& arr = file.at(name);
    std::copy(arr.values.begin(), arr.values.end(),
              flat[static_cast<size_t>(slot.part)].begin() + slot.offset);
  }
  for (size_t b = 0; b < buffers.size(); ++b)
    if (buffers[b].defined())
      buffers[b].copy_from(Tensor::from_vector(buffers[b].shape(), flat[b]));
}

}  // namespace detail

namespace {

void load_model(const std::string& path, Embedding* embedding, RNN& rnn, Linear& head,
                std::map<std::string, std::string>* metadata) {
  const std::string call = "load_checkpoint: '" + path + "'";
  std::map<std::string, std::string> meta;
  const TensorMap file = load_safetensors(path, &meta);  // throws on any malformed file
  // A training checkpoint (Trainer::save_checkpoint) holds the model and the optimizer's
  // state: the model part loads here, the "optimizer." tensors are left alone.
  const auto kind = meta.find("elman_training_checkpoint");
  const bool training = kind != meta.end() && kind->second == "1";
  detail::check_model_tensors(call, file, embedding, rnn, head, training ? "optimizer." : "");
  detail::assign_model_tensors(file, embedding, rnn, head);
  if (metadata) *metadata = std::move(meta);
}

}  // namespace

void load_checkpoint(const std::string& path, RNN& rnn, Linear& head,
                     std::map<std::string, std::string>* metadata) {
  load_model(path, nullptr, rnn, head, metadata);
}

void load_checkpoint(const std::string& path, Embedding& embedding, RNN& rnn, Linear& head,
                     std::map<std::string, std::string>* metadata) {
  load_model(path, &embedding, rnn, head, metadata);
}

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path) {
  std::map<std::string, std::string> meta;
  load_safetensors(path, &meta);
  return meta;
}

}  // namespace elman
