// elman-train: trains Elman RNNs with elman on the CPU or a CUDA device. One subcommand per
// scenario; every run writes a folder with its metrics, hidden states, checkpoint and command.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "plots.h"
#include "ranks.h"
#include "scenarios.h"

namespace demo {

namespace {

// The option's text as a number: all of it, or nothing.
bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE;
}

std::string number_str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

CLI::Validator integer_range(int64_t lo, int64_t hi) {
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || text.empty() || v < lo || v > hi)
          return "must be " + range + ", got '" + text + "'";
        return "";
      },
      range);
}

CLI::Validator unsigned_integer() {
  const std::string range = "an integer from 0 to 18446744073709551615";
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 20 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || (text.size() == 20 && text > "18446744073709551615"))
          return "must be " + range + ", got '" + text + "'";
        return "";
      },
      range);
}

CLI::Validator number_range(double lo, double hi, bool lo_open) {
  const std::string range = "a finite number " + std::string(lo_open ? "> " : "from ") +
                            number_str(lo) + (lo_open ? " and <= " : " to ") + number_str(hi);
  return CLI::Validator(
      [lo, hi, lo_open, range](std::string& text) -> std::string {
        double v = 0;
        const bool ok =
            parse_number(text, v) && std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
        return ok ? "" : "must be " + range + ", got '" + text + "'";
      },
      range);
}

void add_common_options(CLI::App& sub, CommonOptions& common) {
  sub.add_option("--device", common.device, "cpu, cuda or auto (CUDA when present)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  sub.add_option("--seed", common.seed, "seed of the data, the initialisation and the shuffle")
      ->capture_default_str()
      ->check(unsigned_integer());
  sub.add_option(
      "--out", common.out,
      "run folder (default: the resumed run's folder, else runs/<scenario>-<timestamp>)");
  sub.add_flag("--force", common.force,
               "overwrite the run in an existing --out folder (its run files are removed)");
  sub.add_flag("--no-plots", common.no_plots,
               "do not draw the run's PNGs at the end (tools/plot.py draws them later)");
}

void add_training_options(CLI::App& sub, CommonOptions& common) {
  sub.add_option("--resume", common.resume,
                 "continue from a training checkpoint (a file, or a run folder holding "
                 "training.safetensors); --epochs stays the total");
  sub.add_flag("--allow-changes", common.allow_changes,
               "with --resume: go on with another batch size, --bptt, --seed, --lr or "
               "--lr-schedule than the checkpoint's (refused otherwise)");
  sub.add_option("--lr-schedule", common.lr_schedule,
                 "the learning rate per epoch: constant, step:STEP_SIZE[:GAMMA] (PyTorch's StepLR, "
                 "gamma 0.1) or cosine:T_MAX[:ETA_MIN] (CosineAnnealingLR)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              elman::LRSchedule::parse(text);
              return "";
            } catch (const elman::Error& e) {
              return e.what();
            }
          },
          "SCHEDULE"));
}

void add_clip_and_bptt_options(CLI::App& sub, float& clip, int64_t& bptt) {
  sub.add_option("--clip", clip, "global gradient-norm clipping (0: off)")
      ->capture_default_str()
      ->check(number_range(0.0, 1e30));
  sub.add_option("--bptt", bptt,
                 "truncated BPTT: train sequences longer than this in chunks of this many "
                 "steps, the state carried between them (0: full BPTT)")
      ->capture_default_str()
      ->check(integer_range(0, kMaxCount));
}

}  // namespace demo

int main(int argc, char** argv) {
  CLI::App app{
      "elman-train: train Elman RNNs (torch.nn.RNN's model) with elman, on the CPU or a GPU.\n"
      "Every run writes a folder (metrics.csv, hidden_states.csv, model.safetensors,\n"
      "command.txt) and draws its PNGs there when /usr/bin/python3 has matplotlib"};
  app.require_subcommand(1);
  // Under mpirun: join the job; rank 0 alone prints (README: "Several processes and GPUs").
  try {
    demo::join_ranks();
  } catch (const elman::Error& e) {
    std::cerr << "elman-train: " << e.what() << "\n";
    return 1;
  }
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
    return app.exit(e);  // the same on every rank: each exits (only rank 0 is heard)
  } catch (const elman::CollectiveError& e) {
    // Every rank agreed to stop (one of them failed): each exits, rank 0 tells why.
    std::cerr << "elman-train: " << e.what() << "\n";
    demo::discard_unused_run_folder();
    return 1;
  } catch (const elman::Error& e) {
    demo::discard_unused_run_folder();
    demo::report_local_failure(e.what());  // with several ranks, ends them all
    return 1;
  } catch (const std::bad_alloc&) {
    demo::discard_unused_run_folder();
    demo::report_local_failure("out of memory (a size option too large for this machine?)");
    return 1;
  }
  if (status != 0) demo::discard_unused_run_folder();
  if (status == 0 && !common.no_plots && demo::is_rank0() && !demo::current_run_folder().empty())
    demo::draw_plots(demo::current_run_folder());
  return status;
}
