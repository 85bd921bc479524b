// elman-train: trains Elman RNNs with elman on the CPU or a CUDA device. One subcommand per
// scenario; every run writes a folder with its metrics, hidden states, checkpoint and command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "scenarios.h"

namespace demo {

void add_common_options(CLI::App& sub, CommonOptions& common) {
  sub.add_option("--device", common.device, "cpu, cuda or auto (CUDA when present)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  sub.add_option("--seed", common.seed, "seed of the data, the initialisation and the shuffle")
      ->capture_default_str();
  sub.add_option("--out", common.out, "run folder (default runs/<scenario>-<timestamp>)");
}

void add_training_options(CLI::App& sub, CommonOptions& common) {
  sub.add_option("--resume", common.resume,
                 "continue from a training checkpoint (a file, or a run folder holding "
                 "training.safetensors); --epochs stays the total");
}

void add_clip_and_bptt_options(CLI::App& sub, float& clip, int64_t& bptt) {
  sub.add_option("--clip", clip, "global gradient-norm clipping (0: off)")->capture_default_str();
  sub.add_option("--bptt", bptt,
                 "truncated BPTT: train sequences longer than this in chunks of this many "
                 "steps, the state carried between them (0: full BPTT)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

}  // namespace demo

int main(int argc, char** argv) {
  CLI::App app{
      "elman-train: train Elman RNNs (torch.nn.RNN's model) with elman, on the CPU or a GPU.\n"
      "Every run writes a folder (metrics.csv, hidden_states.csv, model.safetensors,\n"
      "command.txt); plot it with: tools/plot.py <run folder>"};
  app.require_subcommand(1);
  demo::CommonOptions common;
  common.command_line = demo::join_command_line(argc, argv);
  int status = 0;
  demo::add_walkthrough(app, common, status);
  demo::add_next_number(app, common, status);
  demo::add_series(app, common, status);
  demo::add_chars(app, common, status);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const elman::Error& e) {
    std::cerr << "elman-train: " << e.what() << "\n";
    return 1;
  }
  return status;
}
