// The variable-length case of elman-bench: seeded per-sequence lengths drawn uniformly in
// [ceil(T/2), T] (unsorted), and the padding checks both sides must pass before timing.
#pragma once

#include <cstdint>
#include <vector>

namespace elman::bench {

// `batch` lengths, each uniform in [ceil(seq_len / 2), seq_len], from a splitmix64 stream seeded
// with `seed`: the same seed gives the same lengths on every machine. Left in drawing order
// (not sorted), so both sides face an unsorted batch. Throws elman::Error for batch or
// seq_len < 1.
std::vector<int64_t> draw_lengths(int64_t batch, int64_t seq_len, uint64_t seed);

// The seed of a shape's lengths: derived from the run's --seed, the batch and T, so shapes of
// different B or T draw different lengths, shapes of the same B and T (e.g. uni and bi) the same
// ones, and the GPU and CPU runs of one seed the same ones.
uint64_t lengths_seed(uint64_t run_seed, int64_t batch, int64_t seq_len);

// Number of time steps actually run: the sum of `lengths`, or seq_len * batch when empty.
int64_t total_steps(const std::vector<int64_t>& lengths, int64_t seq_len, int64_t batch);

// For a time-major [seq_len, batch, width] buffer: how many values past each sequence's end
// (t >= lengths[b]) are not exactly zero. 0 when lengths is empty (nothing is padding). Throws
// elman::Error when the sizes do not match.
int64_t count_nonzero_padding(const std::vector<float>& v, const std::vector<int64_t>& lengths,
                              int64_t seq_len, int64_t batch, int64_t width);

// Sets those padded positions to zero (for a peer that leaves them undefined, e.g. cuDNN's dx).
void zero_padding(std::vector<float>& v, const std::vector<int64_t>& lengths, int64_t seq_len,
                  int64_t batch, int64_t width);

}  // namespace elman::bench
