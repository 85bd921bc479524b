// The four elman-train scenarios: each registers its subcommand and options with CLI11 and
// runs when that subcommand is chosen. Defined one per file (walkthrough.cpp, ...).
#pragma once

#include <CLI/CLI.hpp>

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

}  // namespace demo
