// The quickstart: a 2-layer bidirectional tanh RNN on the CPU (or --device cuda), one forward
// and one backward pass over a batch, printing the output and the gradient norms.
#include <elman/elman.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

static double norm(const elman::Tensor& t) {
  double s = 0;
  for (float v : t.to_vector()) s += static_cast<double>(v) * v;
  return std::sqrt(s);
}

int main(int argc, char** argv) {
  elman::Device device = elman::Device::cpu();
  if (argc > 2 && std::strcmp(argv[1], "--device") == 0 && std::strcmp(argv[2], "cuda") == 0)
    device = elman::Device::cuda(0);
  try {
    elman::Context ctx(device);
    elman::RNNOptions opt;
    opt.input_size = 4;
    opt.hidden_size = 8;
    opt.num_layers = 2;
    opt.bidirectional = true;
    elman::RNN rnn(ctx, opt, /*seed=*/42);

    const int64_t T = 6, B = 3;
    std::mt19937 gen(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(T * B * opt.input_size));
    for (float& v : x) v = normal(gen);
    elman::Tensor input = elman::Tensor::from_vector({T, B, opt.input_size}, x, device);

    elman::RNNCache cache;
    elman::RNNOutput out = rnn.forward_train(input, elman::Tensor(), cache);
    std::printf(
        "elman %s on %s: RNN(input_size=%lld, hidden_size=%lld, num_layers=%lld, "
        "bidirectional=True)\n",
        elman::version_string(), device.str().c_str(), (long long)opt.input_size,
        (long long)opt.hidden_size, (long long)opt.num_layers);
    std::printf("input  %s\noutput %s  h_n %s\n", elman::shape_str(input.shape()).c_str(),
                elman::shape_str(out.output.shape()).c_str(),
                elman::shape_str(out.h_n.shape()).c_str());
    const std::vector<float> y = out.output.to_vector();
    std::printf("output[T-1, 0, :] =");
    for (int64_t k = 0; k < out.output.size(2); ++k)
      std::printf(" %+.4f", y[static_cast<size_t>(((T - 1) * B) * out.output.size(2) + k)]);
    std::printf("\n");

    // Loss = sum of all outputs, so dL/doutput is all ones.
    elman::Tensor grad_out = elman::Tensor::full(out.output.shape(), 1.0f, device);
    rnn.zero_grad();
    elman::RNNInputGrads g = rnn.backward(cache, grad_out);
    std::printf("|output| = %.6f  |h_n| = %.6f\n", norm(out.output), norm(out.h_n));
    std::printf("|d input| = %.6f  |d h0| = %.6f\n", norm(g.grad_input), norm(g.grad_h0));
    for (const std::string& name : rnn.parameter_names())
      std::printf("  |d %-22s| = %.6f  %s\n", name.c_str(), norm(rnn.grad(name)),
                  elman::shape_str(rnn.grad(name).shape()).c_str());
  } catch (const elman::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
