// A user's program against the installed package: builds a small RNN on the CPU, runs one
// forward pass and checks the result's shapes and values, and that the package's
// elman_WITH_CUDA describes the library. Exit status 0 means it worked.
#include <elman/elman.h>

#include <cmath>
#include <cstdio>

int main() {
  try {
    elman::Context ctx(elman::Device::cpu());
    elman::RNNOptions options;
    options.input_size = 3;
    options.hidden_size = 5;
    options.num_layers = 2;
    options.bidirectional = true;
    elman::RNN rnn(ctx, options, /*seed=*/1);

    const int64_t T = 4, B = 2;
    const elman::Tensor input = elman::Tensor::full({T, B, options.input_size}, 0.5f);
    const elman::RNNOutput out = rnn.forward(input);
    std::printf("elman %s: output %s, h_n %s\n", elman::version_string(),
                elman::shape_str(out.output.shape()).c_str(),
                elman::shape_str(out.h_n.shape()).c_str());

    const elman::Shape want_output = {T, B, 2 * options.hidden_size};
    const elman::Shape want_h_n = {2 * options.num_layers, B, options.hidden_size};
    if (out.output.shape() != want_output || out.h_n.shape() != want_h_n) {
      std::fprintf(stderr, "unexpected shapes: output %s (want %s), h_n %s (want %s)\n",
                   elman::shape_str(out.output.shape()).c_str(),
                   elman::shape_str(want_output).c_str(), elman::shape_str(out.h_n.shape()).c_str(),
                   elman::shape_str(want_h_n).c_str());
      return 1;
    }
    for (float v : out.output.to_vector()) {
      if (!std::isfinite(v) || std::fabs(v) >= 1.0f) {  // tanh outputs lie in (-1, 1)
        std::fprintf(stderr, "output value %g is not a tanh output\n", v);
        return 1;
      }
    }
    // The two sequences of the batch are identical, so their outputs must be too.
    const std::vector<float> y = out.output.to_vector();
    const int64_t width = 2 * options.hidden_size;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t k = 0; k < width; ++k)
        if (y[(t * B + 0) * width + k] != y[(t * B + 1) * width + k]) {
          std::fprintf(stderr, "equal sequences gave different outputs at t=%lld\n",
                       static_cast<long long>(t));
          return 1;
        }
    // find_package's elman_WITH_CUDA and the library agree; a CPU-only library offers the CPU.
    if (elman::built_with_cuda() != (ELMAN_PACKAGE_WITH_CUDA == 1)) {
      std::fprintf(stderr, "elman_WITH_CUDA is %d but the library says built_with_cuda() = %d\n",
                   ELMAN_PACKAGE_WITH_CUDA, elman::built_with_cuda() ? 1 : 0);
      return 1;
    }
    if (!elman::built_with_cuda() && elman::Device::best_available() != elman::Device::cpu()) {
      std::fprintf(stderr, "a CPU-only elman offers %s as the best device\n",
                   elman::Device::best_available().str().c_str());
      return 1;
    }
    std::printf("ok (%s)\n", elman::built_with_cuda() ? "with CUDA" : "CPU-only");
    return 0;
  } catch (const elman::Error& e) {
    std::fprintf(stderr, "elman error: %s\n", e.what());
    return 1;
  }
}
