// elman::RNN as a model: options, PyTorch-named parameters in one flat buffer, initialisation,
// gradients, and the training cache. The forward and backward passes are in rnn_forward.cpp
// and rnn_backward.cpp.
#include "elman/rnn.h"

#include <algorithm>
#include <atomic>

#include "elman/error.h"
#include "host/backend.h"
#include "host/init.h"
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
  auto too_large = [](const std::string& what, int64_t given, int64_t most, const char* why) {
    throw Error("RNNOptions: " + what + " must be at most " + std::to_string(most) + ", got " +
                std::to_string(given) + " (" + why + ")");
  };
  if (input_size > kMaxFeatureSize)
    too_large("input_size", input_size, kMaxFeatureSize, "BLAS counts rows in int");
  if (hidden_size > kMaxFeatureSize)
    too_large("hidden_size", hidden_size, kMaxFeatureSize, "BLAS counts rows in int");
  if (num_layers > kMaxLayers) too_large("num_layers", num_layers, kMaxLayers, "elman's limit");
  if (!(dropout >= 0.0f && dropout < 1.0f))  // NaN fails too
    throw Error("RNNOptions: dropout must be in [0, 1), got " + std::to_string(dropout));
  if (nonlinearity != Nonlinearity::kTanh && nonlinearity != Nonlinearity::kReLU)
    throw Error("RNNOptions: nonlinearity must be kTanh or kReLU, got the value " +
                std::to_string(static_cast<int>(nonlinearity)));
}

RNNCache::RNNCache() : state_(std::make_unique<detail::CacheState>()) {}
RNNCache::~RNNCache() = default;
RNNCache::RNNCache(RNNCache&&) noexcept = default;
RNNCache& RNNCache::operator=(RNNCache&&) noexcept = default;
bool RNNCache::valid() const { return state_ && state_->valid; }

static uint64_t next_model_id() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

RNN::RNN(const Context& ctx, const RNNOptions& options, uint64_t seed) try
    : Module(ctx, "RNN"),
      id_(next_model_id()),
      options_(options),
      workspace_(std::make_unique<Workspace>()),
      dropout_seed_(seed) {
  options_.validate();
  workspace_->layout = detail::make_param_layout(options_);
  const auto& layout = workspace_->layout;

  // Device memory first: a model too large for the device fails here, with the size, before
  // any host memory of that size is touched.
  Tensor params = Tensor::empty({layout.total}, ctx.device());
  Tensor grads = Tensor::zeros({layout.total}, ctx.device());

  // PyTorch's reset_parameters: every parameter from U(-k, k), k = 1/sqrt(hidden_size).
  // Generated and copied in bounded chunks, so the host never holds a second full copy.
  detail::init_uniform(params, options_.hidden_size, seed);
  std::vector<std::pair<std::string, Shape>> shapes;  // the layout's order: offsets consecutive
  for (const auto& e : layout.entries) shapes.emplace_back(e.name, e.shape);
  adopt_parameters(params, grads, shapes);
} catch (const std::bad_alloc&) {
  throw Error("RNN: out of host memory building a model with input_size " +
              std::to_string(options.input_size) + ", hidden_size " +
              std::to_string(options.hidden_size) + ", num_layers " +
              std::to_string(options.num_layers));
} catch (const std::length_error&) {
  throw Error("RNN: a model with num_layers " + std::to_string(options.num_layers) +
              " is too large to describe");
}

RNN::~RNN() = default;

void RNN::set_algorithm(Algorithm algorithm) {
  // Throws if unusable.
  detail::resolve_algorithm("RNN::set_algorithm", algorithm, detail::backend_of(context()));
  algorithm_ = algorithm;
}

void RNN::set_dropout_state(uint64_t seed, uint64_t calls) {
  check_usable("RNN::set_dropout_state");
  dropout_seed_ = seed;
  dropout_calls_ = calls;
}

Algorithm RNN::resolved_algorithm() const {
  return detail::resolve_algorithm("RNN::resolved_algorithm", algorithm_,
                                   detail::backend_of(context()));
}
RNN::RNN(RNN&&) noexcept = default;

}  // namespace elman
