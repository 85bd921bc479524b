// The oneDNN plugin of elman-bench (documented in onednn_peer.h): oneDNN 2.x's C++ API
// (dnnl::vanilla_rnn_forward / vanilla_rnn_backward), one primitive per layer group.
#include "bench/onednn_peer.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "bench/onednn_layout.h"
#include "elman/error.h"

namespace elman::bench {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;

memory::desc f32(const memory::dims& dims, Tag tag) {
  return memory::desc(dims, memory::data_type::f32, tag);
}

dnnl::algorithm activation(const RNNOptions& o) {
  return o.nonlinearity == Nonlinearity::kTanh ? dnnl::algorithm::eltwise_tanh
                                               : dnnl::algorithm::eltwise_relu;
}

dnnl::rnn_direction direction(const RNNOptions& o) {
  return o.bidirectional ? dnnl::rnn_direction::bidirectional_concat
                         : dnnl::rnn_direction::unidirectional_left2right;
}

void check_time_major(const char* call, const RNNOptions& o) {
  if (o.batch_first)
    throw Error(std::string(call) +
                ": oneDNN's RNN takes time-major [T, B, I] data, the model is "
                "batch_first");
}

// The memory descriptors of one layer group for sequences of T steps, batch B: data and states in
// oneDNN's plain layouts (tnc, ldnc: elman's), weights and bias left to the primitive (any).
// oneDNN 2.6's vanilla RNN refuses to run without a bias: a model without biases gets a zero one
// (to_onednn_weights), and its gradient is dropped.
struct GroupDescs {
  memory::desc src_layer, src_iter, dst_layer, dst_iter;  // plain
  memory::desc w_layer_user, w_iter_user, bias_user;      // ldigo, ldigo, ldgo
  memory::desc w_layer, w_iter, bias;                     // any

  GroupDescs(const RNNOptions& o, const OnednnLayerGroup& g, int64_t T, int64_t B) {
    const int64_t L = g.layers, D = o.num_directions(), H = o.hidden_size;
    src_layer = f32({T, B, g.input_size}, Tag::tnc);
    src_iter = f32({L, D, B, H}, Tag::ldnc);
    dst_layer = f32({T, B, D * H}, Tag::tnc);
    dst_iter = src_iter;
    w_layer_user = f32({L, D, g.input_size, 1, H}, Tag::ldigo);
    w_iter_user = f32({L, D, H, 1, H}, Tag::ldigo);
    bias_user = f32({L, D, 1, H}, Tag::ldgo);
    w_layer = f32({L, D, g.input_size, 1, H}, Tag::any);
    w_iter = f32({L, D, H, 1, H}, Tag::any);
    bias = f32({L, D, 1, H}, Tag::any);
  }
};

dnnl::vanilla_rnn_forward::primitive_desc forward_pd(const RNNOptions& o, const GroupDescs& d,
                                                     dnnl::prop_kind kind,
                                                     const dnnl::engine& eng) {
  const dnnl::vanilla_rnn_forward::desc desc(kind, activation(o), direction(o), d.src_layer,
                                             d.src_iter, d.w_layer, d.w_iter, d.bias, d.dst_layer,
                                             d.dst_iter);
  return dnnl::vanilla_rnn_forward::primitive_desc(desc, eng);
}

// `user` in the layout `want` (a reorder, run now, once), or `user` itself when they match.
memory in_layout(const memory& user, const memory::desc& want, const dnnl::engine& eng,
                 dnnl::stream& strm) {
  if (user.get_desc() == want) return user;
  memory src = user, m(want, eng);  // (handles: copies share the data)
  dnnl::reorder(src, m).execute(strm, src, m);
  strm.wait();
  return m;
}

void zero(memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

// A group's weights as one primitive wants them.
struct Weights {
  memory layer, iter, bias;
  void add_to(Args& args) const {
    args[DNNL_ARG_WEIGHTS_LAYER] = layer;
    args[DNNL_ARG_WEIGHTS_ITER] = iter;
    args[DNNL_ARG_BIAS] = bias;
  }
};

// What every group of a model or a stream has: its descriptors and its weights in the user's
// layouts, which the primitives' weights are reordered from.
struct GroupBase {
  OnednnLayerGroup group;
  GroupDescs descs;
  OnednnWeights user;  // the storage behind the user memories
  memory w_layer_user, w_iter_user, bias_user;

  GroupBase(const RNNOptions& o, const OnednnLayerGroup& g, int64_t T, int64_t B,
            const std::vector<float>& params, const dnnl::engine& eng)
      : group(g), descs(o, g, T, B), user(to_onednn_weights(o, g, params)) {
    w_layer_user = memory(descs.w_layer_user, eng, user.layer.data());
    w_iter_user = memory(descs.w_iter_user, eng, user.iter.data());
    bias_user = memory(descs.bias_user, eng, user.bias.data());
  }

  template <typename PD>
  Weights weights_for(const PD& pd, const dnnl::engine& eng, dnnl::stream& strm) const {
    return {in_layout(w_layer_user, pd.weights_layer_desc(), eng, strm),
            in_layout(w_iter_user, pd.weights_iter_desc(), eng, strm),
            in_layout(bias_user, pd.bias_desc(), eng, strm)};
  }
};

// The primitives' errors (dnnl::error) become elman::Error naming the call.
template <typename F>
auto translate_errors(const char* call, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw Error(std::string(call) + ": oneDNN: " + e.what() + " (status " +
                std::to_string(int(e.status)) + ")");
  }
}

// ---- full sequences ------------------------------------------------------------------------

class RnnModel final : public OnednnRNN {
 public:
  RnnModel(const RNNOptions& options, int64_t seq_len, int64_t batch,
           const std::vector<float>& params, const std::vector<CpuInputSet>& sets);
  PeerResults results(size_t set) override;
  std::vector<float> weight_grads() override;
  void inference(size_t set) override;
  void train_forward(size_t set) override;
  void backward(size_t set) override;
  std::string implementation() const override;

 private:
  RNNOptions o;
  int64_t T = 0, B = 0;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::vector<float> params;      // elman's flat parameters, PyTorch's order
  std::vector<CpuInputSet> sets;  // owned copies: the argument lists point into them

  struct Group : GroupBase {
    using GroupBase::GroupBase;
    dnnl::vanilla_rnn_forward inference, training;
    dnnl::vanilla_rnn_backward backward;
    Weights w_inference, w_training, w_backward;
    memory diff_w_layer, diff_w_iter, diff_bias;  // the backward's layouts
    memory workspace;
    std::vector<Args> inference_args, training_args, backward_args;  // per input set
    std::string implementation;                                      // oneDNN's name for it
  };
  std::vector<Group> groups;

  // Outputs ([T, B, D*H], [L*D, B, H]) and input gradients ([T, B, I], [L*D, B, H]).
  std::vector<float> y_inference, y, h_n_inference, h_n, dx, dh0;
  // Between group g and g + 1: its outputs (inference and training) and their gradient.
  std::vector<std::vector<float>> mid_inference, mid, mid_grad;

  void build();
  void bind(size_t k);
  void zero_grads() {
    for (Group& g : groups) {
      zero(g.diff_w_layer);
      zero(g.diff_w_iter);
      zero(g.diff_bias);
    }
  }
  std::vector<float> grads_in_flat_order();
};

void RnnModel::build() {
  const int64_t D = o.num_directions(), H = o.hidden_size, LD = o.num_layers * D;
  const std::vector<OnednnLayerGroup> layer_groups = onednn_layer_groups(o);
  for (const OnednnLayerGroup& lg : layer_groups) {
    Group& g = groups.emplace_back(o, lg, T, B, params, eng);  // (moves keep user's buffers)
    const GroupDescs& d = g.descs;
    const auto inference_pd = forward_pd(o, d, dnnl::prop_kind::forward_inference, eng);
    const auto training_pd = forward_pd(o, d, dnnl::prop_kind::forward_training, eng);
    const dnnl::vanilla_rnn_backward::desc bwd(
        dnnl::prop_kind::backward, activation(o), direction(o), d.src_layer, d.src_iter, d.w_layer,
        d.w_iter, d.bias, d.dst_layer, d.dst_iter, d.src_layer, d.src_iter, d.w_layer, d.w_iter,
        d.bias, d.dst_layer, d.dst_iter);
    const dnnl::vanilla_rnn_backward::primitive_desc backward_pd(bwd, eng, training_pd);
    g.inference = dnnl::vanilla_rnn_forward(inference_pd);
    g.training = dnnl::vanilla_rnn_forward(training_pd);
    g.backward = dnnl::vanilla_rnn_backward(backward_pd);
    g.w_inference = g.weights_for(inference_pd, eng, strm);
    g.w_training = g.weights_for(training_pd, eng, strm);
    g.w_backward = g.weights_for(backward_pd, eng, strm);
    g.diff_w_layer = memory(backward_pd.diff_weights_layer_desc(), eng);
    g.diff_w_iter = memory(backward_pd.diff_weights_iter_desc(), eng);
    g.diff_bias = memory(backward_pd.diff_bias_desc(), eng);
    g.workspace = memory(training_pd.workspace_desc(), eng);
    g.implementation = training_pd.impl_info_str();
  }
  const size_t out = size_t(T * B * D * H), state = size_t(LD * B * H);
  y_inference.resize(out);
  y.resize(out);
  h_n_inference.resize(state);
  h_n.resize(state);
  dx.resize(size_t(T * B * o.input_size));
  dh0.resize(state);
  for (size_t g = 0; g + 1 < groups.size(); ++g) {
    mid_inference.emplace_back(out);
    mid.emplace_back(out);
    mid_grad.emplace_back(out);
  }
  zero_grads();
  for (size_t k = 0; k < sets.size(); ++k) bind(k);
}

// The argument lists of input set k: wrappers around the owned buffers, made once.
void RnnModel::bind(size_t k) {
  CpuInputSet& in = sets[k];
  const size_t n = groups.size();
  for (size_t gi = 0; gi < n; ++gi) {
    Group& g = groups[gi];
    const GroupDescs& d = g.descs;
    const bool first = gi == 0, top = gi + 1 == n;
    const int64_t off = onednn_state_offset(o, g.group, B);
    auto wrap = [&](const memory::desc& md, float* p) { return memory(md, eng, p); };
    float* x = first ? in.x.data() : mid[gi - 1].data();
    float* y_out = top ? y.data() : mid[gi].data();

    Args inf;
    inf[DNNL_ARG_SRC_LAYER] = wrap(d.src_layer, first ? in.x.data() : mid_inference[gi - 1].data());
    inf[DNNL_ARG_SRC_ITER] = wrap(d.src_iter, in.h0.data() + off);
    g.w_inference.add_to(inf);
    inf[DNNL_ARG_DST_LAYER] =
        wrap(d.dst_layer, top ? y_inference.data() : mid_inference[gi].data());
    inf[DNNL_ARG_DST_ITER] = wrap(d.dst_iter, h_n_inference.data() + off);
    g.inference_args.push_back(inf);

    Args fwd;
    fwd[DNNL_ARG_SRC_LAYER] = wrap(d.src_layer, x);
    fwd[DNNL_ARG_SRC_ITER] = wrap(d.src_iter, in.h0.data() + off);
    g.w_training.add_to(fwd);
    fwd[DNNL_ARG_DST_LAYER] = wrap(d.dst_layer, y_out);
    fwd[DNNL_ARG_DST_ITER] = wrap(d.dst_iter, h_n.data() + off);
    fwd[DNNL_ARG_WORKSPACE] = g.workspace;
    g.training_args.push_back(fwd);

    Args bwd = fwd;
    g.w_backward.add_to(bwd);
    bwd[DNNL_ARG_DIFF_DST_LAYER] = wrap(d.dst_layer, top ? in.dy.data() : mid_grad[gi].data());
    bwd[DNNL_ARG_DIFF_DST_ITER] = wrap(d.dst_iter, in.dhy.data() + off);
    bwd[DNNL_ARG_DIFF_SRC_LAYER] = wrap(d.src_layer, first ? dx.data() : mid_grad[gi - 1].data());
    bwd[DNNL_ARG_DIFF_SRC_ITER] = wrap(d.src_iter, dh0.data() + off);
    bwd[DNNL_ARG_DIFF_WEIGHTS_LAYER] = g.diff_w_layer;
    bwd[DNNL_ARG_DIFF_WEIGHTS_ITER] = g.diff_w_iter;
    bwd[DNNL_ARG_DIFF_BIAS] = g.diff_bias;
    g.backward_args.push_back(bwd);
  }
}

std::vector<float> RnnModel::grads_in_flat_order() {
  std::vector<float> flat(params.size(), 0.0f);
  for (Group& g : groups) {
    OnednnWeights user = to_onednn_weights(o, g.group, params);  // sized like the gradients
    auto back = [&](memory& diff, const memory::desc& md, std::vector<float>& dst) {
      memory m(md, eng, dst.data());
      if (diff.get_desc() == md) {
        std::memcpy(dst.data(), diff.get_data_handle(), md.get_size());
        return;
      }
      dnnl::reorder(diff, m).execute(strm, diff, m);
      strm.wait();
    };
    back(g.diff_w_layer, g.descs.w_layer_user, user.layer);
    back(g.diff_w_iter, g.descs.w_iter_user, user.iter);
    back(g.diff_bias, g.descs.bias_user, user.bias);  // dropped without biases
    from_onednn_grads(o, g.group, user, flat);
  }
  return flat;
}

RnnModel::RnnModel(const RNNOptions& options, int64_t seq_len, int64_t batch,
                   const std::vector<float>& params_, const std::vector<CpuInputSet>& sets_)
    : o(options), T(seq_len), B(batch), params(params_), sets(sets_) {
  options.validate();
  check_time_major("OnednnRNN", options);
  translate_errors("OnednnRNN", [&] { build(); });
}

void RnnModel::inference(size_t k) {
  for (Group& g : groups) g.inference.execute(strm, g.inference_args[k]);
  strm.wait();
}

void RnnModel::train_forward(size_t k) {
  for (Group& g : groups) g.training.execute(strm, g.training_args[k]);
  strm.wait();
}

void RnnModel::backward(size_t k) {
  for (auto g = groups.rbegin(); g != groups.rend(); ++g)
    g->backward.execute(strm, g->backward_args[k]);
  strm.wait();
}

PeerResults RnnModel::results(size_t k) {
  return translate_errors("OnednnRNN::results", [&] {
    zero_grads();
    inference(k);
    train_forward(k);
    backward(k);
    PeerResults r;
    r.y_inference = y_inference;
    r.y = y;
    r.h_n = h_n;
    r.dx = dx;
    r.dh0 = dh0;
    r.dw = grads_in_flat_order();
    return r;
  });
}

std::vector<float> RnnModel::weight_grads() {
  return translate_errors("OnednnRNN::weight_grads", [&] { return grads_in_flat_order(); });
}

std::string RnnModel::implementation() const {
  std::string s;
  for (const Group& g : groups)
    if (s.find(g.implementation) == std::string::npos)
      s += (s.empty() ? "" : ", ") + g.implementation;
  return s;
}

// ---- streaming -----------------------------------------------------------------------------

class StreamModel final : public OnednnStream {
 public:
  StreamModel(const RNNOptions& options, int64_t batch, const std::vector<float>& params);
  void reset(const std::vector<float>& h0) override;
  void step(const float* x_t) override;
  std::vector<float> output() const override { return out; }
  std::vector<float> state() const override { return state_[current]; }

 private:
  RNNOptions o;
  int64_t B = 0;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};

  struct Group : GroupBase {
    using GroupBase::GroupBase;
    dnnl::vanilla_rnn_forward step;
    Weights w;
    Args args[2];  // args[p] reads state_[p] and writes state_[1 - p]
  };
  std::vector<Group> groups;
  std::vector<float> state_[2];         // [L, B, H] each, used in turn
  int current = 0;                      // the state the next step reads
  std::vector<float> out;               // [B, H]
  std::vector<std::vector<float>> mid;  // [B, H] between group g and g + 1
  memory x;                             // group 0's input: a handle moved to each x_t

  void build(const std::vector<float>& params);
};

void StreamModel::build(const std::vector<float>& params) {
  const int64_t H = o.hidden_size, L = o.num_layers;
  state_[0].assign(size_t(L * B * H), 0.0f);
  state_[1] = state_[0];
  out.resize(size_t(B * H));
  const std::vector<OnednnLayerGroup> layer_groups = onednn_layer_groups(o);
  for (size_t gi = 0; gi + 1 < layer_groups.size(); ++gi) mid.emplace_back(size_t(B * H));
  for (size_t gi = 0; gi < layer_groups.size(); ++gi) {
    Group& g = groups.emplace_back(o, layer_groups[gi], 1, B, params, eng);
    const GroupDescs& d = g.descs;
    const auto pd = forward_pd(o, d, dnnl::prop_kind::forward_inference, eng);
    g.step = dnnl::vanilla_rnn_forward(pd);
    g.w = g.weights_for(pd, eng, strm);
    const bool first = gi == 0, top = gi + 1 == layer_groups.size();
    if (first) x = memory(d.src_layer, eng, nullptr);
    const int64_t off = onednn_state_offset(o, g.group, B);
    for (int p = 0; p < 2; ++p) {
      Args& a = g.args[p];
      a[DNNL_ARG_SRC_LAYER] = first ? x : memory(d.src_layer, eng, mid[gi - 1].data());
      a[DNNL_ARG_SRC_ITER] = memory(d.src_iter, eng, state_[p].data() + off);
      g.w.add_to(a);
      a[DNNL_ARG_DST_LAYER] = memory(d.dst_layer, eng, top ? out.data() : mid[gi].data());
      a[DNNL_ARG_DST_ITER] = memory(d.dst_iter, eng, state_[1 - p].data() + off);
    }
  }
}

StreamModel::StreamModel(const RNNOptions& options, int64_t batch, const std::vector<float>& params)
    : o(options), B(batch) {
  options.validate();
  check_time_major("OnednnStream", options);
  if (options.bidirectional)
    throw Error("OnednnStream: streaming is for unidirectional models, this one is bidirectional");
  translate_errors("OnednnStream", [&] { build(params); });
}

void StreamModel::reset(const std::vector<float>& h0) {
  if (h0.size() != state_[0].size())
    throw Error("OnednnStream::reset: h0 holds " + std::to_string(h0.size()) +
                " floats, expected " + std::to_string(state_[0].size()) + " ([L, B, H])");
  std::copy(h0.begin(), h0.end(), state_[0].begin());  // in place: the handles point into it
  current = 0;
}

void StreamModel::step(const float* x_t) {
  x.set_data_handle(const_cast<float*>(x_t));  // read only: oneDNN's handle is not const
  for (Group& g : groups) g.step.execute(strm, g.args[current]);
  strm.wait();
  current ^= 1;
}

// ---- the plugin's entry point ----------------------------------------------------------------

class Peer final : public OnednnPeer {
 public:
  std::string description() const override {
    const dnnl_version_t* v = dnnl::version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " (" +
           (v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "non-OpenMP") + " runtime)";
  }
  int set_threads(int threads) override {
    omp_set_num_threads(threads);
    return omp_get_max_threads();
  }
  std::unique_ptr<OnednnRNN> make_rnn(const RNNOptions& options, int64_t seq_len, int64_t batch,
                                      const std::vector<float>& params,
                                      const std::vector<CpuInputSet>& sets) const override {
    return std::make_unique<RnnModel>(options, seq_len, batch, params, sets);
  }
  std::unique_ptr<OnednnStream> make_stream(const RNNOptions& options, int64_t batch,
                                            const std::vector<float>& params) const override {
    return std::make_unique<StreamModel>(options, batch, params);
  }
};

}  // namespace

}  // namespace elman::bench

extern "C" elman::bench::OnednnPeer* elman_bench_onednn_peer() {
  static elman::bench::Peer peer;
  return &peer;
}
