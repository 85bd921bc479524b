// elman_results: the elman-side agreement block of both benches (bench/agreement.h).
#include "bench/agreement.h"

#include "bench/varlen.h"

namespace elman::bench {

ElmanResults elman_results(RNN& rnn, const Tensor& x, const Tensor& h0, const Tensor& dy,
                           const Tensor& dhy, const std::vector<int64_t>& lengths,
                           RNNOutput& inference, RNNOutput& train, RNNCache& cache,
                           RNNInputGrads& grads) {
  ElmanResults r;
  rnn.forward_into(x, h0, inference, lengths);
  r.y_inference = inference.output.to_vector();
  rnn.forward_train_into(x, h0, cache, train, lengths);
  rnn.zero_grad();
  rnn.backward_into(cache, dy, dhy, grads);
  r.y = train.output.to_vector();
  r.h_n = train.h_n.to_vector();
  r.dx = grads.grad_input.to_vector();
  r.dh0 = grads.grad_h0.to_vector();
  r.dw = rnn.flat_grads().to_vector();
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), DH = dy.size(2);
  r.pad_y_inference = count_nonzero_padding(r.y_inference, lengths, T, B, DH);
  r.pad_y = count_nonzero_padding(r.y, lengths, T, B, DH);
  r.pad_dx = count_nonzero_padding(r.dx, lengths, T, B, I);
  return r;
}

}  // namespace elman::bench
