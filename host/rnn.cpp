// elman::RNN as a model: options, PyTorch-named parameters in one flat buffer, initialisation,
// gradients, and the training cache. The forward and backward passes are in rnn_forward.cpp
// and rnn_backward.cpp.
#include "elman/rnn.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>

#include "elman/error.h"
#include "host/backend.h"
#include "host/recurrence.h"
#include "host/rnn_state.h"

namespace elman {

std::string nonlinearity_name(Nonlinearity n) { return n == Nonlinearity::kTanh ? "tanh" : "relu"; }

Nonlinearity parse_nonlinearity(const std::string& name) {
  if (name == "tanh") return Nonlinearity::kTanh;
  if (name == "relu") return Nonlinearity::kReLU;
  throw Error("nonlinearity: unknown value '" + name + "', expected 'tanh' or 'relu'");
}

int64_t RNNOptions::layer_input_size(int64_t layer) const {
  return layer == 0 ? input_size : num_directions() * hidden_size;
}

void RNNOptions::validate() const {
  auto bad = [](const std::string& what, int64_t given) {
    throw Error("RNNOptions: " + what + " must be positive, got " + std::to_string(given));
  };
  if (input_size <= 0) bad("input_size", input_size);
  if (hidden_size <= 0) bad("hidden_size", hidden_size);
  if (num_layers <= 0) bad("num_layers", num_layers);
  if (nonlinearity != Nonlinearity::kTanh && nonlinearity != Nonlinearity::kReLU)
    throw Error("RNNOptions: nonlinearity must be kTanh or kReLU, got the value " +
                std::to_string(static_cast<int>(nonlinearity)));
}

RNNCache::RNNCache() : state_(std::make_unique<State>()) {}
RNNCache::~RNNCache() = default;
RNNCache::RNNCache(RNNCache&&) noexcept = default;
RNNCache& RNNCache::operator=(RNNCache&&) noexcept = default;
bool RNNCache::valid() const { return state_ && state_->valid; }

static uint64_t next_model_id() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

RNN::RNN(Context& ctx, const RNNOptions& options, uint64_t seed)
    : ctx_(&ctx),
      id_(next_model_id()),
      options_(options),
      workspace_(std::make_unique<Workspace>()) {
  options_.validate();
  workspace_->layout = detail::make_param_layout(options_);
  const auto& layout = workspace_->layout;
  const Device device = ctx.device();

  // Device memory first: a model too large for the device fails here, with the size, before
  // any host memory of that size is touched.
  flat_params_ = Tensor::empty({layout.total}, device);
  flat_grads_ = Tensor::zeros({layout.total}, device);

  // PyTorch's reset_parameters: every parameter from U(-k, k), k = 1/sqrt(hidden_size).
  // mt19937_64 is fully specified by the standard, so a seed means the same weights everywhere.
  // Generated and copied in bounded chunks, so the host never holds a second full copy.
  std::mt19937_64 gen(seed);
  const double k = 1.0 / std::sqrt(static_cast<double>(options_.hidden_size));
  constexpr int64_t kChunk = int64_t{1} << 20;
  std::vector<float> chunk;
  for (int64_t begin = 0; begin < layout.total; begin += kChunk) {
    const int64_t n = std::min(kChunk, layout.total - begin);
    chunk.resize(static_cast<size_t>(n));
    for (float& v : chunk) {
      const double u = static_cast<double>(gen() >> 11) * 0x1.0p-53;  // [0, 1)
      v = static_cast<float>((2.0 * u - 1.0) * k);
    }
    flat_params_.view({n}, begin).copy_from(Tensor::from_vector({n}, chunk));
  }
  for (const auto& e : layout.entries) {
    names_.push_back(e.name);
    params_.push_back(flat_params_.view(e.shape, e.offset));
    grads_.push_back(flat_grads_.view(e.shape, e.offset));
  }
}

RNN::~RNN() = default;

void RNN::set_algorithm(Algorithm algorithm) {
  detail::resolve_algorithm("RNN::set_algorithm", algorithm, ctx_->device());  // throws if unusable
  algorithm_ = algorithm;
}

Algorithm RNN::resolved_algorithm() const {
  return detail::resolve_algorithm("RNN::resolved_algorithm", algorithm_, ctx_->device());
}
RNN::RNN(RNN&&) noexcept = default;

static size_t index_of(const std::vector<std::string>& names, const std::string& name,
                       const char* what) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return i;
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw Error(std::string(what) + ": no parameter named '" + name + "' (parameters: " + known +
              ")");
}

Tensor& RNN::parameter(const std::string& name) {
  return params_[index_of(names_, name, "RNN::parameter")];
}
Tensor& RNN::grad(const std::string& name) { return grads_[index_of(names_, name, "RNN::grad")]; }

void RNN::zero_grad() {
  detail::run(ctx_->backend(), detail::Fill{flat_grads_.data(), flat_grads_.numel(), 0.0f});
}

}  // namespace elman
