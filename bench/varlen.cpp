// Lengths for the variable-length case and the padding checks (documented in varlen.h).
#include "bench/varlen.h"

#include <string>

#include "elman/error.h"

namespace elman::bench {

static uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::vector<int64_t> draw_lengths(int64_t batch, int64_t seq_len, uint64_t seed) {
  if (batch < 1 || seq_len < 1)
    throw Error("draw_lengths: batch and seq_len must be >= 1, got batch " + std::to_string(batch) +
                ", seq_len " + std::to_string(seq_len));
  const int64_t lo = (seq_len + 1) / 2;  // ceil(T / 2), at least 1
  const uint64_t span = uint64_t(seq_len - lo + 1);
  uint64_t state = seed;
  std::vector<int64_t> lengths(static_cast<size_t>(batch));
  // The modulo bias is below span / 2^64: immaterial for spans of a few hundred.
  for (int64_t& l : lengths) l = lo + int64_t(splitmix64(state) % span);
  return lengths;
}

uint64_t lengths_seed(uint64_t run_seed, int64_t batch, int64_t seq_len) {
  uint64_t state = run_seed ^ (uint64_t(batch) << 32) ^ uint64_t(seq_len);
  return splitmix64(state);
}

int64_t total_steps(const std::vector<int64_t>& lengths, int64_t seq_len, int64_t batch) {
  if (lengths.empty()) return seq_len * batch;
  int64_t n = 0;
  for (int64_t l : lengths) n += l;
  return n;
}

static void check_sizes(const char* call, const std::vector<float>& v,
                        const std::vector<int64_t>& lengths, int64_t seq_len, int64_t batch,
                        int64_t width) {
  if (int64_t(v.size()) != seq_len * batch * width)
    throw Error(
        std::string(call) + ": the buffer holds " + std::to_string(v.size()) +
        " values, expected seq_len * batch * width = " + std::to_string(seq_len * batch * width));
  if (!lengths.empty() && int64_t(lengths.size()) != batch)
    throw Error(std::string(call) + ": " + std::to_string(lengths.size()) +
                " lengths for a batch of " + std::to_string(batch));
}

int64_t count_nonzero_padding(const std::vector<float>& v, const std::vector<int64_t>& lengths,
                              int64_t seq_len, int64_t batch, int64_t width) {
  check_sizes("count_nonzero_padding", v, lengths, seq_len, batch, width);
  int64_t n = 0;
  for (int64_t b = 0; b < int64_t(lengths.size()); ++b)
    for (int64_t t = lengths[size_t(b)]; t < seq_len; ++t)
      for (int64_t k = 0; k < width; ++k) n += v[size_t((t * batch + b) * width + k)] != 0.0f;
  return n;
}

void zero_padding(std::vector<float>& v, const std::vector<int64_t>& lengths, int64_t seq_len,
                  int64_t batch, int64_t width) {
  check_sizes("zero_padding", v, lengths, seq_len, batch, width);
  for (int64_t b = 0; b < int64_t(lengths.size()); ++b)
    for (int64_t t = lengths[size_t(b)]; t < seq_len; ++t)
      for (int64_t k = 0; k < width; ++k) v[size_t((t * batch + b) * width + k)] = 0.0f;
}

}  // namespace elman::bench
