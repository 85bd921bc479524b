// Scenario `walkthrough`: the textbook "memory" demonstration. A 1-input, 3-unit RNN reads
// [1, 2, 3] one step at a time; each step prints the input, the previous and the new state.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "ranks.h"
#include "scenarios.h"

namespace demo {
namespace {

struct WalkthroughOptions {
  std::vector<float> sequence{1.0f, 2.0f, 3.0f};
  int64_t hidden = 3;
};

std::string vec_str(const std::vector<float>& v) {
  std::ostringstream os;
  os << "[";
  char num[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(num, sizeof num, "%s%+.6f", i ? ", " : "", static_cast<double>(v[i]));
    os << num;
  }
  return os.str() + "]";
}

int run_walkthrough(const CommonOptions& common, const WalkthroughOptions& o) {
  const elman::Device device = pick_device(common.device);
  elman::Context ctx(device);
  elman::RNNOptions ro;
  ro.input_size = 1;
  ro.hidden_size = o.hidden;
  ro.batch_first = true;
  elman::RNN rnn(ctx, ro, common.seed);
  const auto dir = make_run_folder(common, "walkthrough");

  std::cout << "An Elman RNN with input_size 1 and hidden_size " << o.hidden << " on "
            << device.str() << " (PyTorch's initialisation, seed " << common.seed << "):\n"
            << "  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)\n";
  for (const std::string& name : rnn.parameter_names())
    std::cout << "  " << name << " " << elman::shape_str(rnn.parameter(name).shape()) << " = "
              << vec_str(rnn.parameter(name).to_vector()) << "\n";

  std::cout << "\nProcessing the sequence step by step with RNN::step (nn.RNNCell's use), the "
               "state carried between calls:\n";
  // The state is [num_layers, H] for one unbatched sequence; zeros: empty memory.
  elman::Tensor state = elman::Tensor::zeros({1, o.hidden}, device);
  std::vector<float> h = state.to_vector();
  std::cout << "initial state (empty memory): " << vec_str(h) << "\n";
  std::vector<std::vector<float>> states;
  std::vector<std::string> inputs;
  for (size_t t = 0; t < o.sequence.size(); ++t) {
    const float x = o.sequence[t];
    const elman::Tensor xt = elman::Tensor::from_vector({1}, {x}, device);  // [input_size]
    state = rnn.step(xt, state).h_n;  // the new state, fed back in at the next step
    const std::vector<float> h_new = state.to_vector();
    std::printf(
        "\nstep %zu\n  input          x = %g\n  previous state   %s\n  new state        %s\n",
        t + 1, static_cast<double>(x), vec_str(h).c_str(), vec_str(h_new).c_str());
    h = h_new;
    states.push_back(h);
    char num[32];
    std::snprintf(num, sizeof num, "%g", static_cast<double>(x));
    inputs.push_back(num);
  }
  std::cout << "\nfinal state (the memory of the whole sequence): " << vec_str(h) << "\n";

  // The same sequence in one forward() call must give the same states: stepping is not a
  // different model, only a different way to drive it (streaming inference).
  const auto whole = hidden_states_of(rnn, o.sequence, static_cast<int64_t>(o.sequence.size()));
  double max_diff = 0.0;
  for (size_t t = 0; t < states.size(); ++t)
    for (size_t j = 0; j < states[t].size(); ++j)
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(states[t][j] - whole[t][j])));
  std::printf("one forward() over the whole sequence gives the same states: max |diff| = %.3g\n",
              max_diff);

  write_hidden_states(dir, inputs, states);
  elman::TensorMap weights;
  for (const std::string& name : rnn.parameter_names()) {
    const elman::Tensor& p = rnn.parameter(name);
    weights["rnn." + name] = elman::NamedArray{p.shape(), p.to_vector()};
  }
  if (is_rank0())  // under mpirun: rank 0 writes the run folder
    elman::save_safetensors((dir / "model.safetensors").string(), weights,
                            {{"scenario", "walkthrough"},
                             {"input_size", "1"},
                             {"hidden_size", std::to_string(o.hidden)}});
  std::cout << "wrote " << (dir / "hidden_states.csv").string() << " and model.safetensors; plot: "
            << "tools/plot.py " << dir.string() << "\n";
  return max_diff <= 1e-6 ? 0 : 1;
}

}  // namespace

void add_walkthrough(CLI::App& app, CommonOptions& common, int& status) {
  static WalkthroughOptions o;
  CLI::App* sub = app.add_subcommand(
      "walkthrough", "a 3-unit RNN reads [1, 2, 3] step by step, printing its hidden state");
  add_common_options(*sub, common);
  sub->add_option("--sequence", o.sequence, "the inputs, one number per step")
      ->capture_default_str();
  add_positive_option(*sub, "--hidden", o.hidden, "hidden units");
  sub->callback([&common, &status] { status = run_walkthrough(common, o); });
}

}  // namespace demo
