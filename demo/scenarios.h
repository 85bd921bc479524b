// The four elman-train scenarios: each registers its subcommand and options with CLI11 and
// runs when that subcommand is chosen. Defined one per file (walkthrough.cpp, ...).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <type_traits>

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

// Validators that read the option's text themselves and name the accepted range in their
// message ("an integer from 1 to 1000000", "a finite number from 0 to 1e+30"): NaN, an
// infinity, a fraction where an integer is due, or a negative number for an unsigned option
// never pass (CLI11's PositiveNumber and Range let NaN through).
CLI::Validator integer_range(int64_t lo, int64_t hi);
CLI::Validator unsigned_integer();  // 0 .. 2^64 - 1, digits only
// A finite number in [lo, hi], or in (lo, hi] with lo_open.
CLI::Validator number_range(double lo, double hi, bool lo_open = false);

// The largest value of a count option unless it says otherwise: beyond it the data or the
// run would not fit in memory or time, and the user has most likely mistyped.
constexpr int64_t kMaxCount = 1000000000;

// An option that must be a positive integer (--hidden, --batch, --epochs, ...) up to `max`, or
// a positive finite number (--temperature), default shown.
template <typename T>
CLI::Option* add_positive_option(CLI::App& sub, const std::string& name, T& value,
                                 const std::string& help, int64_t max = kMaxCount) {
  CLI::Option* o = sub.add_option(name, value, help)->capture_default_str();
  if constexpr (std::is_integral_v<T>)
    return o->check(integer_range(1, max));
  else
    return o->check(number_range(0.0, static_cast<double>(max), true));
}

}  // namespace demo
