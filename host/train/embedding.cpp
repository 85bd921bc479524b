// elman::Embedding: the table's initialisation, and its gather and scatter-add through the
// backend (kernels/train/embedding_ops.h).
#include "elman/embedding.h"

#include <cmath>
#include <limits>
#include <random>

#include "elman/error.h"
#include "host/alias_checks.h"
#include "host/backend.h"
#include "host/buffers.h"
#include "host/checked_size.h"
#include "kernels/train/batch_gather_ops.h"
#include "kernels/train/train_ops.h"

namespace elman {
namespace {

// N(0, 1) draws from std::mt19937_64(seed): Box-Muller on two 53-bit uniforms, the cosine
// branch only, so each value is a pure function of the seed and its position.
std::vector<float> normal_draws(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    const double u1 = 1.0 - static_cast<double>(gen() >> 11) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(gen() >> 11) * 0x1.0p-53;        // [0, 1)
    x = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
  }
  return v;
}

}  // namespace

Embedding::Embedding(const Context& ctx, int64_t num_embeddings, int64_t embedding_dim,
                     std::optional<int64_t> padding_idx, uint64_t seed)
    : Module(ctx, "Embedding"), num_(num_embeddings), dim_(embedding_dim) {
  if (num_embeddings <= 0)
    throw Error("Embedding: num_embeddings must be positive, got " +
                std::to_string(num_embeddings));
  if (embedding_dim <= 0)
    throw Error("Embedding: embedding_dim must be positive, got " + std::to_string(embedding_dim));
  if (padding_idx) {
    const int64_t p = *padding_idx;
    if (p < -num_embeddings || p >= num_embeddings)
      throw Error("Embedding: padding_idx " + std::to_string(p) + " is outside [" +
                  std::to_string(-num_embeddings) + ", " + std::to_string(num_embeddings) +
                  ") for " + std::to_string(num_embeddings) + " embeddings");
    padding_idx_ = p < 0 ? p + num_embeddings : p;
  }
  const std::string call =
      "Embedding(" + std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim) + ")";
  const int64_t total = detail::checked_mul(num_, dim_, call + ": weight");
  const int32_t kMaxIds = std::numeric_limits<int32_t>::max();
  if (num_ - 1 > kMaxIds)
    throw Error(call + ": at most " + std::to_string(kMaxIds) + " + 1 embeddings (ids are int32)");
  std::vector<float> init;
  try {
    init = normal_draws(total, seed);
  } catch (const std::bad_alloc&) {
    throw Error(call + ": could not allocate " + std::to_string(total) + " floats on the host");
  }
  if (padding_idx_)
    std::fill(init.begin() + *padding_idx_ * dim_, init.begin() + (*padding_idx_ + 1) * dim_, 0.0f);
  Tensor params, grads;
  try {
    params = Tensor::from_vector({total}, init, ctx.device());
    grads = Tensor::zeros({total}, ctx.device());
  } catch (const Error& e) {
    throw Error(call + ": " + e.what());
  }
  adopt_parameters(params, grads, {{"weight", {num_, dim_}}});
}

void Embedding::check_ids(const char* call, const IndexTensor& ids) const {
  check_usable(call);
  if (!ids.defined()) throw Error(std::string(call) + ": ids are undefined");
  if (ids.device() != context().device())
    throw Error(std::string(call) + ": ids are on " + ids.device().str() + ", the layer on " +
                context().device().str());
  if (ids.max() >= num_) {
    const std::vector<int64_t>& v = ids.to_vector();
    size_t at = 0;
    while (v[at] < num_) ++at;
    throw Error(std::string(call) + ": id " + std::to_string(v[at]) + " at position " +
                std::to_string(at) + " is out of range for " + std::to_string(num_) +
                " embeddings (ids 0.." + std::to_string(num_ - 1) + ")");
  }
}

namespace {

// Every one of n ids, in order: one "example" of n steps.
detail::BatchWindow all_positions(int64_t n) { return {nullptr, 0, 1, 0, n, n, false}; }

Shape with_dim(const Shape& s, int64_t dim) {
  Shape out = s;
  out.push_back(dim);
  return out;
}

}  // namespace

void Embedding::forward_into(const IndexTensor& ids, Tensor& out) {
  constexpr const char* kCall = "Embedding::forward";
  check_ids(kCall, ids);
  const Shape shape = with_dim(ids.shape(), dim_);
  const Device device = context().device();
  detail::check_no_overlap(
      kCall, {"out", out}, shape, device,
      {{"the layer's parameters", flat_parameters()}, {"the layer's gradients", flat_grads()}});
  detail::ensure_result(out, shape, device);
  const int64_t n = ids.numel();
  if (n == 0) return;
  detail::run(detail::backend_of(context()),
              detail::GatherTokenRows{weight().data(), detail::index_data(ids), out.data(),
                                      all_positions(n), dim_});
}

Tensor Embedding::forward(const IndexTensor& ids) {
  Tensor out;
  forward_into(ids, out);
  return out;
}

void Embedding::backward(const IndexTensor& ids, const Tensor& grad_out) {
  constexpr const char* kCall = "Embedding::backward";
  check_ids(kCall, ids);
  const Shape shape = with_dim(ids.shape(), dim_);
  if (!grad_out.defined()) throw Error(std::string(kCall) + ": grad_out is undefined");
  if (grad_out.shape() != shape)
    throw Error(std::string(kCall) + ": grad_out has shape " + shape_str(grad_out.shape()) +
                ", expected " + shape_str(shape) + " (the ids' shape, then embedding_dim)");
  if (grad_out.device() != context().device())
    throw Error(std::string(kCall) + ": grad_out is on " + grad_out.device().str() +
                ", the layer on " + context().device().str());
  if (grad_out.shares_memory_with(flat_grads()))
    throw Error(std::string(kCall) + ": grad_out shares memory with the layer's gradients");
  Tensor grads = flat_grads();  // accumulated into: a write (Tensor::version())
  grads.mark_modified();
  const int64_t n = ids.numel();
  if (n == 0) return;
  detail::run(
      detail::backend_of(context()),
      detail::EmbeddingGradAccumulate{detail::index_data(ids), grad_out.data(), grads.data(),
                                      all_positions(n), dim_, padding_idx_.value_or(-1)});
}

}  // namespace elman
