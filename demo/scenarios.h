// The four elman-train scenarios: each registers its subcommand and options with CLI11 and
// runs when that subcommand is chosen. Defined one per file (walkthrough.cpp, ...).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "run_folder.h"

namespace demo {

// Each returns the process exit status (0: success).
void add_walkthrough(CLI::App& app, CommonOptions& common, int& status);
void add_next_number(CLI::App& app, CommonOptions& common, int& status);
void add_series(CLI::App& app, CommonOptions& common, int& status);
void add_chars(CLI::App& app, CommonOptions& common, int& status);

// The options every scenario takes: --device, --seed, --out.
void add_common_options(CLI::App& sub, CommonOptions& common);
// And those of the training scenarios (next-number, series, chars): --resume.
void add_training_options(CLI::App& sub, CommonOptions& common);
// --clip and --bptt, for the scenarios that clip gradients and may truncate BPTT (series, chars).
void add_clip_and_bptt_options(CLI::App& sub, float& clip, int64_t& bptt);

// An option that must be a positive number (--hidden, --batch, --epochs, ...), default shown.
template <typename T>
CLI::Option* add_positive_option(CLI::App& sub, const std::string& name, T& value,
                                 const std::string& help) {
  return sub.add_option(name, value, help)->capture_default_str()->check(CLI::PositiveNumber);
}

}  // namespace demo
