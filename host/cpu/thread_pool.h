// A persistent pool of worker threads for the CPU recurrence: one dispatch per sequence (not per
// step), the steps separated by a spinning barrier, idle workers asleep after a short spin.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace elman::detail::cpu {

// The number of processors this process may run on (its affinity mask), at least 1.
int available_cores();

// A barrier for a fixed number of threads, reusable step after step. Waiters spin (the steps
// it separates take microseconds), then yield their core, so a thread whose partner has been
// descheduled on a busy machine does not burn the partner's time.
class SpinBarrier {
 public:
  explicit SpinBarrier(int threads) : threads_(threads) {}
  void arrive_and_wait();
  // Waits that outlasted the spin and had to yield: a partner was descheduled (the machine has
  // more runnable threads than cores), not merely slower.
  int slow_waits() const { return slow_waits_.load(std::memory_order_relaxed); }

 private:
  const int threads_;
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<int> slow_waits_{0};
};

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads - 1 workers; the caller is the last thread
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Whether the last run() waited for a worker past the spin (as SpinBarrier::slow_waits).
  bool last_run_was_slow() const { return last_run_slow_; }

  // Calls task(i) for every i in [0, n), n in [1, size()]: i = 0 on the calling thread, the
  // others on workers, and returns when all have returned. task must not throw. Not reentrant:
  // one run at a time per pool.
  template <typename Task>
  void run(int n, const Task& task) {
    run_erased(
        n, [](const void* t, int i) { (*static_cast<const Task*>(t))(i); }, &task);
  }

 private:
  using Call = void (*)(const void* task, int index);
  void run_erased(int n, Call call, const void* task);
  void worker_loop(int index);

  // The job: a generation counter and its thread count in one word (generation << 16 | n), so
  // a worker reads both at once. Workers with index < n take part and the caller waits for
  // them, so call and task stay untouched until they are done; the others never read them.
  static uint64_t job_word(uint64_t generation, int n) { return generation << 16 | uint64_t(n); }
  std::vector<std::thread> workers_;
  bool last_run_slow_ = false;
  Call job_call_ = nullptr;
  const void* job_task_ = nullptr;
  alignas(64) std::atomic<uint64_t> job_{0};
  alignas(64) std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // Sleeping workers: counted, so a dispatch takes the mutex only when one sleeps. A worker
  // counts itself before its last look at job_, the dispatcher stores job_ before it reads the
  // count (both sequentially consistent): one of them sees the other.
  std::atomic<int> sleepers_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  void wake_sleepers();
};

}  // namespace elman::detail::cpu
