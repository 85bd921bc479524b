// The progress line of a training run that takes more than a few seconds: the epoch, the
// sequences done, the last epoch's loss, the rate and the time left.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace demo {

class ProgressLine {
 public:
  // `epochs`: the epochs this run trains (after a resume: those still to go), the first being
  // number `first_epoch`. On a terminal (stderr) the line is redrawn in place; otherwise (a
  // log) it is a plain line at most every `log_every` seconds.
  ProgressLine(int64_t first_epoch, int64_t epochs, double log_every = 10.0);
  ~ProgressLine();  // clears the line from a terminal
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void on_batch(int64_t epoch, int64_t done, int64_t total);  // TrainerOptions::on_batch
  void on_epoch(double train_loss, double unit_scale);        // after every good epoch
  void clear();  // before other output, so that it does not land in the middle of the line

  // The text of the line: "epoch 3/10, 1200/5000 sequences, loss 1.234, 850 seq/s, 42 s left"
  // (loss omitted before the first epoch ends, time left before anything is measured).
  static std::string format(int64_t epoch, int64_t last_epoch, int64_t done, int64_t total,
                            double loss, double seq_per_s, double seconds_left);

 private:
  using Clock = std::chrono::steady_clock;
  int64_t last_epoch_;
  int64_t epoch_ = 0, epoch_total_ = 0;  // the epoch on_batch saw last, and its size
  double log_every_;
  bool terminal_;
  bool shown_ = false;     // a line is on the terminal now
  double loss_ = -1.0;     // the last finished epoch's (scaled), < 0 before one
  int64_t sequences_ = 0;  // of the epochs before epoch_, since the start of this run
  Clock::time_point start_, last_draw_;
};

}  // namespace demo
