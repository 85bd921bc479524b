// ELMAN_HD marks code that compiles for both the host (CPU backend, tests) and the device.
// It lets one functor body serve the CUDA launcher and the CPU loop (DESIGN.md §2).
#pragma once

#if defined(__CUDACC__)
#define ELMAN_HD __host__ __device__
#else
#define ELMAN_HD
#endif
