// ThreadPool and SpinBarrier: spinning waits with a bounded budget, then yielding or sleeping.
#include "host/cpu/thread_pool.h"

#include <sched.h>

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ELMAN_CPU_RELAX() _mm_pause()
#else
#define ELMAN_CPU_RELAX() std::this_thread::yield()
#endif

namespace elman::detail::cpu {

namespace {
// How long a waiter spins before it gives its core away. A recurrence step takes about 1-100 us;
// a worker that slept must be woken by the kernel, which costs tens of microseconds.
constexpr int kBarrierSpins = 4000;                           // ~ 10-40 us of pause instructions
constexpr auto kWorkerSpin = std::chrono::microseconds(200);  // between two dispatches
}  // namespace

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

void SpinBarrier::arrive_and_wait() {
  if (threads_ == 1) return;
  const uint32_t gen = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.store(gen + 1, std::memory_order_release);
    return;
  }
  for (int spins = 0; generation_.load(std::memory_order_acquire) == gen; ++spins) {
    if (spins < kBarrierSpins) {
      ELMAN_CPU_RELAX();
    } else {
      if (spins == kBarrierSpins) slow_waits_.fetch_add(1, std::memory_order_relaxed);
      sched_yield();
    }
  }
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  job_.store(job_word((job_.load() >> 16) + 1, 0));
  wake_sleepers();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::wake_sleepers() {
  if (sleepers_.load() == 0) return;
  { std::lock_guard<std::mutex> lock(mutex_); }  // a sleeper is either waiting or sees job_
  wake_.notify_all();
}

void ThreadPool::run_erased(int n, Call call, const void* task) {
  last_run_slow_ = false;
  if (n <= 1) {
    call(task, 0);
    return;
  }
  job_call_ = call;
  job_task_ = task;
  pending_.store(n - 1, std::memory_order_relaxed);
  job_.store(job_word((job_.load(std::memory_order_relaxed) >> 16) + 1, n));
  wake_sleepers();
  call(task, 0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kBarrierSpins) {
      ELMAN_CPU_RELAX();
    } else {
      last_run_slow_ = true;
      sched_yield();
    }
  }
}

void ThreadPool::worker_loop(int index) {
  // Generation 0 is the pool's state at construction, before any job: a worker that starts
  // late must still see the first job (or the destructor's stop) as new.
  uint64_t seen = 0;
  for (;;) {
    // Spin a while for the next job (a sequence of calls arrives back to back), then sleep.
    const auto spin_until = std::chrono::steady_clock::now() + kWorkerSpin;
    uint64_t job = job_.load(std::memory_order_acquire);
    for (int spins = 1; job >> 16 == seen; ++spins) {
      ELMAN_CPU_RELAX();
      if (spins % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return job_.load() >> 16 != seen; });
        sleepers_.fetch_sub(1);
      }
      job = job_.load(std::memory_order_acquire);
    }
    seen = job >> 16;
    if (stop_.load(std::memory_order_acquire)) return;
    if (index < static_cast<int>(job & 0xffff)) {
      job_call_(job_task_, index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

}  // namespace elman::detail::cpu
