// The progress line's text, and its silence in runs shorter than a few seconds.
#include "progress.h"

#include <gtest/gtest.h>

namespace demo {
namespace {

TEST(ProgressLine, SaysTheEpochTheLossTheRateAndTheTimeLeft) {
  EXPECT_EQ(ProgressLine::format(3, 10, 1200, 5000, 1.23456, 850.4, 42.2),
            "epoch 3/10, 1200/5000 sequences, loss 1.235, 850 seq/s, 42 s left");
  EXPECT_EQ(ProgressLine::format(1, 2, 10, 100, -1, 0, -1), "epoch 1/2, 10/100 sequences");
  EXPECT_EQ(ProgressLine::format(1, 40, 10, 100, 0.5, 3, 600),
            "epoch 1/40, 10/100 sequences, "
            "loss 0.5, 3 seq/s, 10 min left");
  EXPECT_EQ(ProgressLine::format(1, 40, 10, 100, 0.5, 3, 7200 * 1.5),
            "epoch 1/40, 10/100 sequences, loss 0.5, 3 seq/s, 3.0 h left");
}

TEST(ProgressLine, QuietInAShortRun) {
  testing::internal::CaptureStderr();
  {
    ProgressLine line(1, 2, /*log_every=*/0.0);
    for (int64_t done = 1; done <= 100; ++done) line.on_batch(1, done, 100);
    line.on_epoch(0.5, 1.0);
    for (int64_t done = 1; done <= 100; ++done) line.on_batch(2, done, 100);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace demo
