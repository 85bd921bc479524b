// What every elman-train scenario shares: the options common to all, the device choice, the run
// folder (command.txt, metrics.csv, hidden_states.csv) and the per-epoch progress line.
#pragma once

#include <elman/elman.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace demo {

struct CommonOptions {
  std::string device = "auto";  // cpu | cuda | auto
  uint64_t seed = 0;
  std::string out;     // the run folder; default: the resumed run's, else runs/<scenario>-<time>
  bool force = false;  // --force: overwrite the run in an existing --out folder
  std::string command_line;    // argv joined, for command.txt
  std::string resume;          // --resume: a training checkpoint, or a run folder holding one
  bool allow_changes = false;  // --allow-changes: resume with other training options
  std::string lr_schedule = "constant";  // --lr-schedule (elman::LRSchedule::parse)
  bool no_plots = false;                 // --no-plots: leave the PNGs to tools/plot.py
};

// What defines a run's data and model (scenario, files, window, vocabulary, sizes, ...), as
// string pairs: written into its checkpoints; --resume refuses a checkpoint whose differ.
using RunIdentity = std::map<std::string, std::string>;

// The training checkpoint every training scenario writes after each good epoch.
constexpr const char* kTrainingCheckpoint = "training.safetensors";

// --resume's file: `resume` itself, or <resume>/training.safetensors when it is a folder; ""
// when `resume` is empty. Throws elman::Error when the file does not exist.
std::string resume_file(const std::string& resume);

// The epochs a training checkpoint has done (its "epoch" metadata); throws elman::Error when the
// file is not a training checkpoint.
int64_t checkpoint_epochs(const std::string& path);

// Sets the trainer's checkpoint path to <dir>/training.safetensors, its metadata to `identity`
// and, with --resume, the number of epochs still to train (--epochs is the total), printing
// what it does. A resumed checkpoint must record the same identity: otherwise elman::Error
// names every difference. Returns the checkpoint to load after the trainer is built ("" when
// not resuming).
std::string plan_resume(const CommonOptions& common, const std::filesystem::path& dir,
                        int64_t total_epochs, const RunIdentity& identity,
                        elman::TrainerOptions& to);

// What identifies a data file's content wherever it lies: "<bytes> bytes, fnv1a64 <hex>" (a
// fingerprint, not a security hash). A run's identity holds it rather than the path, so a resume
// from another working folder is the same run and another file with the same name is not.
std::string content_fingerprint(const std::string& bytes);
std::string file_fingerprint(const std::string& path);

// Throws elman::Error listing every key of `identity` whose value in `recorded` (a checkpoint's
// metadata) differs or is missing.
void check_same_run(const std::string& checkpoint, const RunIdentity& identity,
                    const std::map<std::string, std::string>& recorded);
// The same for the training options, the message saying how to accept the change.
void check_same_training(const std::string& checkpoint, const RunIdentity& training,
                         const std::map<std::string, std::string>& recorded);

// "cpu", "cuda" (an error when no device is present) or "auto" (CUDA when present, else the CPU
// with a one-line notice on stderr).
elman::Device pick_device(const std::string& name);

// The run folder: --out, else the folder of the resumed checkpoint, else
// runs/<scenario>-<timestamp>. An existing folder that holds files is refused (elman::Error
// saying what to do) unless the run resumes from it or --force is given (which removes the old
// run's files). Removes temporary files a killed save left behind, writes command.txt (appends
// to it when resuming in place) and returns the path. Call it once everything that can be
// checked before training has been.
// With --resume, first checks (check_same_run) that the checkpoint records `identity` and,
// unless --allow-changes, `training` (the training options a resumed run keeps: batch size,
// bptt, seed, learning rate and schedule; check_same_training).
std::filesystem::path make_run_folder(const CommonOptions& common, const std::string& scenario,
                                      const RunIdentity& identity = {},
                                      const RunIdentity& training = {});

// The folder make_run_folder returned last (empty before): where the pictures are drawn.
const std::filesystem::path& current_run_folder();

// Called when a run fails: removes the folder make_run_folder created if it still holds nothing
// but command.txt, so a failed run leaves nothing that looks like a run.
void discard_unused_run_folder();

// Writes `content` to `path` atomically: a temporary file in the same folder, flushed to disk,
// then renamed over `path` (a crash leaves the old file or the new one, never a mix).
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// metrics.csv, rewritten atomically after every epoch: epoch,train_loss,val_loss,seconds, the
// losses times `unit_scale` (1/ln 2: bits). A resumed run keeps the rows of the epochs before
// it from the folder's metrics.csv.
class MetricsLog {
 public:
  MetricsLog(const std::filesystem::path& dir, int64_t keep_epochs, double unit_scale);
  void add(const elman::EpochResult& r);

 private:
  std::filesystem::path path_;
  double unit_scale_;
  std::string rows_;
};

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
