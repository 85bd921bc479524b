// Host-clock timing of a CPU phase, shared by elman's and oneDNN's sides of the CPU bench: untimed
// setup, then the timed body, per run; warm-up runs dropped, the rest summarised (median).
#pragma once

#include <chrono>
#include <vector>

#include "bench/flops.h"

namespace elman::bench {

// warmup + runs calls of setup(i) (untimed) and body(i) (timed); per-run ms.
template <typename Setup, typename Body>
Summary time_host(int warmup, int runs, Setup&& setup, Body&& body) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> ms;
  ms.reserve(size_t(runs));
  for (int i = 0; i < warmup + runs; ++i) {
    setup(i);
    const auto t0 = Clock::now();
    body(i);
    const auto t1 = Clock::now();
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return summarize(ms);
}

}  // namespace elman::bench
