// The reference forward and backward, written to be checked by eye against DESIGN.md §1.
#include "host/reference.h"

#include <cmath>

#include "host/param_layout.h"

namespace elman::reference {
namespace {

// The kernels' names (kernels/step_ops.h); relu passes NaN through, as torch.relu does.
template <typename T>
T activate(Nonlinearity n, T a) {
  return n == Nonlinearity::kTanh ? std::tanh(a) : (a > T(0) || std::isnan(a) ? a : T(0));
}
template <typename T>
T activation_grad_from_output(Nonlinearity n, T h) {  // f'(a) written with h = f(a)
  if (std::isnan(h)) return h;
  return n == Nonlinearity::kTanh ? T(1) - h * h : (h > T(0) ? T(1) : T(0));
}

}  // namespace

template <typename T>
Forward<T> forward(const RNNOptions& o, const Weights<T>& w, const std::vector<T>& input,
                   int64_t seq_len, int64_t batch, const std::vector<T>* h0,
                   const std::vector<int64_t>* lengths) {
  const int64_t L = o.num_layers, D = o.num_directions(), H = o.hidden_size, DH = D * H;
  const int64_t Tn = seq_len, B = batch;
  auto length = [&](int64_t b) { return lengths ? (*lengths)[b] : Tn; };
  Forward<T> f;
  f.h_n.assign(static_cast<size_t>(L * D * B * H), T(0));
  // Steps past a sequence's end stay 0.
  f.states.assign(static_cast<size_t>(L), std::vector<T>(static_cast<size_t>(Tn * B * DH), T(0)));
  // x(l, t, b, i): layer l's input at step t for sequence b.
  auto x = [&](int64_t l, int64_t t, int64_t b, int64_t i) -> T {
    if (l > 0) return f.states[l - 1][(t * B + b) * DH + i];
    const int64_t row = o.batch_first ? b * Tn + t : t * B + b;
    return input[row * o.input_size + i];
  };
  for (int64_t l = 0; l < L; ++l) {
    const int64_t I = o.layer_input_size(l);
    for (int64_t d = 0; d < D; ++d) {
      const Cell<T>& c = w[l * D + d];
      for (int64_t b = 0; b < B; ++b) {
        std::vector<T> h(static_cast<size_t>(H), T(0));  // h_{-1}
        if (h0)
          for (int64_t j = 0; j < H; ++j) h[j] = (*h0)[((l * D + d) * B + b) * H + j];
        const int64_t n = length(b);
        for (int64_t s = 0; s < n; ++s) {
          const int64_t t = d == 0 ? s : n - 1 - s;  // reverse: from the sequence's own end
          std::vector<T> h_new(static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) {
            T a = 0;  // a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
            for (int64_t i = 0; i < I; ++i) a += c.w_ih[j * I + i] * x(l, t, b, i);
            for (int64_t k = 0; k < H; ++k) a += c.w_hh[j * H + k] * h[k];
            if (o.bias) a += c.b_ih[j] + c.b_hh[j];
            h_new[j] = activate(o.nonlinearity, a);
          }
          h = h_new;
          for (int64_t j = 0; j < H; ++j) f.states[l][(t * B + b) * DH + d * H + j] = h[j];
        }
        for (int64_t j = 0; j < H; ++j) f.h_n[((l * D + d) * B + b) * H + j] = h[j];
      }
    }
  }
  f.output.resize(static_cast<size_t>(Tn * B * DH));
  for (int64_t t = 0; t < Tn; ++t)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t k = 0; k < DH; ++k) {
        const int64_t row = o.batch_first ? b * Tn + t : t * B + b;
        f.output[row * DH + k] = f.states[L - 1][(t * B + b) * DH + k];
      }
  return f;
}

template <typename T>
Gradients<T> backward(const RNNOptions& o, const Weights<T>& w, const std::vector<T>& input,
                      int64_t seq_len, int64_t batch, const std::vector<T>* h0,
                      const Forward<T>& fwd, const std::vector<T>* grad_output,
                      const std::vector<T>* grad_h_n, const std::vector<int64_t>* lengths) {
  const int64_t L = o.num_layers, D = o.num_directions(), H = o.hidden_size, DH = D * H;
  const int64_t Tn = seq_len, B = batch;
  auto length = [&](int64_t b) { return lengths ? (*lengths)[b] : Tn; };
  Gradients<T> g;
  g.weights.resize(w.size());
  for (size_t c = 0; c < w.size(); ++c) {
    g.weights[c].w_ih.assign(w[c].w_ih.size(), T(0));
    g.weights[c].w_hh.assign(w[c].w_hh.size(), T(0));
    g.weights[c].b_ih.assign(w[c].b_ih.size(), T(0));
    g.weights[c].b_hh.assign(w[c].b_hh.size(), T(0));
  }
  g.h0.assign(static_cast<size_t>(L * D * B * H), T(0));
  g.input.assign(input.size(), T(0));

  // dy: dL/d(layer output) [T, B, D*H] time-major, starting with the top layer's.
  std::vector<T> dy(static_cast<size_t>(Tn * B * DH), T(0));
  if (grad_output)
    for (int64_t t = 0; t < Tn; ++t)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < DH; ++k) {
          const int64_t row = o.batch_first ? b * Tn + t : t * B + b;
          dy[(t * B + b) * DH + k] = (*grad_output)[row * DH + k];
        }

  for (int64_t l = L - 1; l >= 0; --l) {
    const int64_t I = o.layer_input_size(l);
    auto x = [&](int64_t t, int64_t b, int64_t i) -> T {  // this layer's input
      if (l > 0) return fwd.states[l - 1][(t * B + b) * DH + i];
      const int64_t row = o.batch_first ? b * Tn + t : t * B + b;
      return input[row * o.input_size + i];
    };
    std::vector<T> dx(static_cast<size_t>(Tn * B * I), T(0));  // dL/d(this layer's input)
    for (int64_t d = 0; d < D; ++d) {
      const Cell<T>& c = w[l * D + d];
      Cell<T>& gc = g.weights[l * D + d];
      auto h_at = [&](int64_t t, int64_t b, int64_t j) -> T {  // h_t; t outside = h0
        if (t < 0 || t >= length(b)) return h0 ? (*h0)[((l * D + d) * B + b) * H + j] : T(0);
        return fwd.states[l][(t * B + b) * DH + d * H + j];
      };
      for (int64_t b = 0; b < B; ++b) {
        std::vector<T> carry(static_cast<size_t>(H), T(0));  // dL/dh_t through the recurrence
        if (grad_h_n)
          for (int64_t j = 0; j < H; ++j) carry[j] = (*grad_h_n)[((l * D + d) * B + b) * H + j];
        const int64_t n = length(b);
        for (int64_t s = n - 1; s >= 0; --s) {  // the direction's steps, last first
          const int64_t t = d == 0 ? s : n - 1 - s;
          const int64_t t_prev = d == 0 ? t - 1 : t + 1;  // outside [0, T) means h0
          std::vector<T> delta(static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) {
            const T gt = dy[(t * B + b) * DH + d * H + j] + carry[j];
            delta[j] = gt * activation_grad_from_output(o.nonlinearity, h_at(t, b, j));
          }
          for (int64_t j = 0; j < H; ++j) {
            for (int64_t i = 0; i < I; ++i) gc.w_ih[j * I + i] += delta[j] * x(t, b, i);
            for (int64_t k = 0; k < H; ++k) gc.w_hh[j * H + k] += delta[j] * h_at(t_prev, b, k);
            if (o.bias) {
              gc.b_ih[j] += delta[j];
              gc.b_hh[j] += delta[j];
            }
          }
          for (int64_t i = 0; i < I; ++i)
            for (int64_t j = 0; j < H; ++j) dx[(t * B + b) * I + i] += c.w_ih[j * I + i] * delta[j];
          for (int64_t k = 0; k < H; ++k) {
            carry[k] = 0;
            for (int64_t j = 0; j < H; ++j) carry[k] += c.w_hh[j * H + k] * delta[j];
          }
        }
        for (int64_t j = 0; j < H; ++j) g.h0[((l * D + d) * B + b) * H + j] = carry[j];
      }
    }
    if (l > 0) {
      dy = dx;
    } else {
      for (int64_t t = 0; t < Tn; ++t)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t i = 0; i < I; ++i) {
            const int64_t row = o.batch_first ? b * Tn + t : t * B + b;
            g.input[row * I + i] = dx[(t * B + b) * I + i];
          }
    }
  }
  return g;
}

template <typename T>
Weights<T> weights_from_flat(const RNNOptions& o, const std::vector<float>& flat) {
  const detail::ParamLayout layout = detail::make_param_layout(o);
  auto slice = [&](int64_t offset, int64_t n) {
    std::vector<T> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(flat[offset + i]);
    return v;
  };
  Weights<T> w;
  const int64_t H = o.hidden_size;
  for (size_t c = 0; c < layout.cells.size(); ++c) {
    const auto& off = layout.cells[c];
    const int64_t I = o.layer_input_size(static_cast<int64_t>(c) / o.num_directions());
    Cell<T> cell{slice(off.w_ih, H * I), slice(off.w_hh, H * H), {}, {}};
    if (o.bias) {
      cell.b_ih = slice(off.b_ih, H);
      cell.b_hh = slice(off.b_hh, H);
    }
    w.push_back(std::move(cell));
  }
  return w;
}

template <typename T>
std::vector<T> flat_from_weights(const RNNOptions& o, const Weights<T>& w) {
  const detail::ParamLayout layout = detail::make_param_layout(o);
  std::vector<T> flat(static_cast<size_t>(layout.total));
  auto put = [&](int64_t offset, const std::vector<T>& v) {
    for (size_t i = 0; i < v.size(); ++i) flat[offset + static_cast<int64_t>(i)] = v[i];
  };
  for (size_t c = 0; c < layout.cells.size(); ++c) {
    put(layout.cells[c].w_ih, w[c].w_ih);
    put(layout.cells[c].w_hh, w[c].w_hh);
    if (o.bias) {
      put(layout.cells[c].b_ih, w[c].b_ih);
      put(layout.cells[c].b_hh, w[c].b_hh);
    }
  }
  return flat;
}

#define ELMAN_INSTANTIATE_REFERENCE(T)                                                           \
  template Forward<T> forward<T>(const RNNOptions&, const Weights<T>&, const std::vector<T>&,    \
                                 int64_t, int64_t, const std::vector<T>*,                        \
                                 const std::vector<int64_t>*);                                   \
  template Gradients<T> backward<T>(const RNNOptions&, const Weights<T>&, const std::vector<T>&, \
                                    int64_t, int64_t, const std::vector<T>*, const Forward<T>&,  \
                                    const std::vector<T>*, const std::vector<T>*,                \
                                    const std::vector<int64_t>*);                                \
  template Weights<T> weights_from_flat<T>(const RNNOptions&, const std::vector<float>&);        \
  template std::vector<T> flat_from_weights<T>(const RNNOptions&, const Weights<T>&);

ELMAN_INSTANTIATE_REFERENCE(float)
ELMAN_INSTANTIATE_REFERENCE(double)

}  // namespace elman::reference
