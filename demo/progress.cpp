// The progress line of a long training run (demo/progress.h).
#include "progress.h"

#include <unistd.h>

#include <cmath>

namespace demo {
namespace {

constexpr double kQuietSeconds = 3.0;   // runs shorter than this show no progress line
constexpr double kRedrawSeconds = 0.2;  // a terminal line is redrawn at most this often

std::string duration_text(double s) {
  char buf[32];
  if (s < 90)
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 5400)
    std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  else
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

}  // namespace

ProgressLine::ProgressLine(int64_t first_epoch, int64_t epochs, double log_every)
    : last_epoch_(first_epoch + epochs - 1),
      log_every_(log_every),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_draw_(start_) {}

ProgressLine::~ProgressLine() { clear(); }

std::string ProgressLine::format(int64_t epoch, int64_t last_epoch, int64_t done, int64_t total,
                                 double loss, double seq_per_s, double seconds_left) {
  char buf[160];
  int n = std::snprintf(buf, sizeof buf, "epoch %lld/%lld, %lld/%lld sequences",
                        static_cast<long long>(epoch), static_cast<long long>(last_epoch),
                        static_cast<long long>(done), static_cast<long long>(total));
  std::string text(buf, static_cast<size_t>(n));
  if (loss >= 0) {
    std::snprintf(buf, sizeof buf, ", loss %.4g", loss);
    text += buf;
  }
  if (seq_per_s > 0) {
    std::snprintf(buf, sizeof buf, ", %.0f seq/s", seq_per_s);
    text += buf;
  }
  if (seconds_left >= 0 && std::isfinite(seconds_left))
    text += ", " + duration_text(seconds_left) + " left";
  return text;
}

void ProgressLine::on_batch(int64_t epoch, int64_t done, int64_t total) {
  if (epoch != epoch_) {  // a new epoch: the last one's sequences are done
    if (epoch_ != 0) sequences_ += epoch_total_;
    epoch_ = epoch;
    epoch_total_ = total;
  }
  const Clock::time_point now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (elapsed < kQuietSeconds || since_draw < (terminal_ ? kRedrawSeconds : log_every_)) return;
  last_draw_ = now;
  const int64_t so_far = sequences_ + done;  // this run's sequences, this epoch's included
  const double rate = so_far / elapsed;
  const double remaining = static_cast<double>((last_epoch_ - epoch) * total + (total - done));
  const std::string text = format(epoch, last_epoch_, done, total, loss_, rate, remaining / rate);
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    shown_ = true;
  } else {
    std::fprintf(stderr, "progress: %s\n", text.c_str());
  }
  std::fflush(stderr);
}

void ProgressLine::on_epoch(double train_loss, double unit_scale) {
  loss_ = train_loss * unit_scale;
}

void ProgressLine::clear() {
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace demo
