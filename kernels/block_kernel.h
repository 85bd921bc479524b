// Block-level kernels (kernels/README.md): a body over (block, thread) in phases separated by
// barriers, and the CPU launcher that runs the same body for every block and thread, in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/hd.h"

namespace elman::detail {

// Which CUDA thread is running: its block and thread index, and the grid's shape.
struct BlockThread {
  int block, thread, blocks, threads;
};

// What separates a phase from the next: every thread of the block has finished it
// (__syncthreads), or every thread of the grid has (a cooperative grid barrier).
enum class Barrier { kBlock, kGrid };

// A block-level kernel K is a plain struct (its arguments; copied to the GPU by value) with
//   int blocks, threads;                   the grid
//   int64_t shared_floats() const;         floats of shared memory per block
//   ELMAN_HD int phases() const;                  phases per launch
//   ELMAN_HD Barrier barrier_after(int p) const;  what follows phase p (the last ends the launch)
//   ELMAN_HD void run_phase(int p, const BlockThread& at, float* shared) const;
// where `shared` is the block's shared memory (the kernel lays it out as a struct of spans).
// Phase p of a thread may read what any thread of its block wrote before the last block barrier
// and what any thread of the grid wrote before the last grid barrier; nothing else.

// The CPU launcher: between two grid barriers, each block in turn runs its phases, each phase
// for every thread in order. Shared memory starts as NaN, as a reminder that on the GPU it starts
// undefined: a phase that reads what no earlier phase wrote poisons the result.
template <typename K>
void run_blocks_on_cpu(const K& k) {
  const int64_t per_block = k.shared_floats();
  std::vector<float> shared(static_cast<size_t>(per_block * k.blocks),
                            std::numeric_limits<float>::quiet_NaN());
  const int phases = k.phases();
  for (int first = 0; first < phases;) {
    int last = first;  // [first, last]: the phases up to the next grid barrier or the end
    while (last + 1 < phases && k.barrier_after(last) != Barrier::kGrid) ++last;
    for (int b = 0; b < k.blocks; ++b)
      for (int p = first; p <= last; ++p)
        for (int t = 0; t < k.threads; ++t)
          k.run_phase(p, BlockThread{b, t, k.blocks, k.threads}, shared.data() + b * per_block);
    first = last + 1;
  }
}

}  // namespace elman::detail
