// What every elman-train scenario shares: the options common to all, the device choice, the run
// folder (command.txt, metrics.csv, hidden_states.csv) and the per-epoch progress line.
#pragma once

#include <elman/elman.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace demo {

struct CommonOptions {
  std::string device = "auto";  // cpu | cuda | auto
  uint64_t seed = 0;
  std::string out;           // the run folder; default runs/<scenario>-<timestamp>
  std::string command_line;  // argv joined, for command.txt
  std::string resume;        // --resume: a training checkpoint, or a run folder holding one
};

// The training checkpoint every training scenario writes after each good epoch.
constexpr const char* kTrainingCheckpoint = "training.safetensors";

// --resume's file: `resume` itself, or <resume>/training.safetensors when it is a folder; ""
// when `resume` is empty. Throws elman::Error when the file does not exist.
std::string resume_file(const std::string& resume);

// The epochs a training checkpoint has done (its "epoch" metadata); throws elman::Error when the
// file is not a training checkpoint.
int64_t checkpoint_epochs(const std::string& path);

// Sets the trainer's checkpoint path to <dir>/training.safetensors and, with --resume, the
// number of epochs still to train (--epochs is the total), printing what it does. Returns the
// checkpoint to load after the trainer is built ("" when not resuming).
std::string plan_resume(const CommonOptions& common, const std::filesystem::path& dir,
                        int64_t total_epochs, elman::TrainerOptions& to);

// "cpu", "cuda" (an error when no device is present) or "auto" (CUDA when present, else the CPU
// with a one-line notice on stderr).
elman::Device pick_device(const std::string& name);

// Creates the run folder and writes command.txt into it; returns its path.
std::filesystem::path make_run_folder(const CommonOptions& common, const std::string& scenario);

// metrics.csv: epoch,train_loss,val_loss,seconds; losses times `unit_scale` (1/ln 2: bits).
// The rows of epochs <= keep_epochs already in the folder's metrics.csv are kept (a run resumed
// into its own folder gets the whole curve).
void write_metrics(const std::filesystem::path& dir, const std::vector<elman::EpochResult>& epochs,
                   int64_t keep_epochs = 0, double unit_scale = 1.0);

// hidden_states.csv: step,input,h0,h1,... with one row per time step.
void write_hidden_states(const std::filesystem::path& dir, const std::vector<std::string>& inputs,
                         const std::vector<std::vector<float>>& states);

// The hidden state after each step of one sequence x ([T, I] row-major) from rnn.forward:
// result[t] is output[0, t, :] (the last layer's h_t). Reads back (synchronises).
std::vector<std::vector<float>> hidden_states_of(elman::RNN& rnn, const std::vector<float>& x,
                                                 int64_t steps);

// One line per epoch: "epoch   3/50  train 0.123456  val 0.120000  0.01 s  9000 seq/s".
// `unit_scale` converts the loss for display (1/ln 2 turns nats into bits).
void print_epoch(const elman::EpochResult& r, int64_t epochs, double unit_scale = 1.0);

// "full BPTT" when k is 0 or >= steps, else "truncated BPTT in chunks of k steps".
std::string bptt_str(int64_t k, int64_t steps);

// Joins argv into one shell-quoted line.
std::string join_command_line(int argc, char** argv);

}  // namespace demo
