// The GPU side of elman-bench: elman's CUDA backend against every cuDNN RNN algorithm that accepts
// the shape, same weights and inputs, agreement checked before anything is timed (DESIGN.md §5).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>

#include "bench/agreement.h"
#include "bench/bench_config.h"
#include "bench/cuda_owners.h"
#include "bench/cudnn_api.h"
#include "bench/cudnn_rnn.h"
#include "bench/varlen.h"
#include "elman/elman.h"
#include "host/backend.h"
#include "kernels/cuda_check.cuh"

namespace elman::bench {
namespace {

// ---- timing -------------------------------------------------------------------------------

// Start/stop event pairs for every timed run, created before any timing.
class EventTimer {
 public:
  explicit EventTimer(int runs) : start_(size_t(runs)), stop_(size_t(runs)) {
    for (int i = 0; i < runs; ++i) {
      ELMAN_CUDA_CHECK(cudaEventCreate(&start_[size_t(i)]));
      ELMAN_CUDA_CHECK(cudaEventCreate(&stop_[size_t(i)]));
    }
  }
  ~EventTimer() {
    for (size_t i = 0; i < start_.size(); ++i) {
      if (start_[i]) cudaEventDestroy(start_[i]);
      if (stop_[i]) cudaEventDestroy(stop_[i]);
    }
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Runs setup(i) untimed and body(i) timed for i = 0 .. warmup + runs - 1 (the first `warmup`
  // untimed too), all queued on `stream`; one synchronisation at the end; per-run ms.
  template <typename Setup, typename Body>
  Summary time(cudaStream_t stream, int warmup, Setup&& setup, Body&& body) {
    const int runs = static_cast<int>(start_.size());
    for (int i = 0; i < warmup + runs; ++i) {
      setup(i);
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(start_[size_t(i - warmup)], stream));
      body(i);
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(stop_[size_t(i - warmup)], stream));
    }
    ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<double> ms(size_t(runs), 0.0);
    for (size_t i = 0; i < ms.size(); ++i) {
      float t = 0;
      ELMAN_CUDA_CHECK(cudaEventElapsedTime(&t, start_[i], stop_[i]));
      ms[i] = t;
    }
    return summarize(ms);
  }

  // As time(), but the stream is synchronised after every run, so each run starts on an idle
  // GPU (a serving loop waits for each step's output). Events around each run; the host wall
  // clock from just before the launches to the end of the synchronisation goes to *host_wall.
  template <typename Body>
  Summary time_each(cudaStream_t stream, int warmup, Body&& body, Summary* host_wall) {
    using Clock = std::chrono::steady_clock;
    const int runs = static_cast<int>(start_.size());
    std::vector<double> wall(size_t(runs), 0.0);
    for (int i = 0; i < warmup + runs; ++i) {
      const auto t0 = Clock::now();
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(start_[size_t(i - warmup)], stream));
      body(i);
      if (i >= warmup) ELMAN_CUDA_CHECK(cudaEventRecord(stop_[size_t(i - warmup)], stream));
      ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
      const auto t1 = Clock::now();
      if (i >= warmup)
        wall[size_t(i - warmup)] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    }
    std::vector<double> ms(size_t(runs), 0.0);
    for (size_t i = 0; i < ms.size(); ++i) {
      float t = 0;
      ELMAN_CUDA_CHECK(cudaEventElapsedTime(&t, start_[i], stop_[i]));
      ms[i] = t;
    }
    *host_wall = summarize(wall);
    return summarize(ms);
  }

 private:
  std::vector<cudaEvent_t> start_, stop_;
};

const auto kNoSetup = [](int) {};

std::vector<float> download(const float* device_ptr, int64_t n) {
  std::vector<float> host(static_cast<size_t>(n));
  if (n)
    ELMAN_CUDA_CHECK(cudaMemcpy(host.data(), device_ptr, size_t(n) * 4, cudaMemcpyDeviceToHost));
  return host;
}

// ---- the machine ----------------------------------------------------------------------------

Rates measure_rates(Context& ctx, cudaStream_t stream, const std::string& device_name) {
  Rates rates;
  EventTimer timer(20);
  {  // a large square SGEMM through elman's own GEMM (cuBLAS, CUBLAS_DEFAULT_MATH: FP32, no TF32),
     // on random inputs: zeros can run faster than real data (METHOD.md), flattering the floor
    constexpr int64_t n = 8192;
    DeviceBuffer a(n * n * 4), b(n * n * 4), c(n * n * 4);
    for (const DeviceBuffer* m : {&a, &b}) {
      const std::vector<float> values = random_values(n * n, m == &a ? 101 : 102);
      ELMAN_CUDA_CHECK(
          cudaMemcpyAsync(m->get(), values.data(), m->bytes(), cudaMemcpyHostToDevice, stream));
      ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));  // `values` is read before it goes
    }
    detail::Backend& be = detail::backend_of(ctx);
    const Summary s = timer.time(stream, 2, kNoSetup, [&](int) {
      be.gemm(detail::Trans::kN, detail::Trans::kN, n, n, n, 1.0f, a.f(), n, b.f(), n, 0.0f, c.f(),
              n);
    });
    rates.gemm_flop_per_s = 2.0 * n * n * n / (s.median_ms * 1e-3);
    rates.gemm_what =
        "SGEMM 8192^3 FP32 on U(-1, 1) inputs (cuBLAS, no TF32), median of 20 on " + device_name;
  }
  {  // a device-to-device copy of 1 GiB: bytes read + bytes written per second
    constexpr size_t bytes = size_t(1) << 30;
    DeviceBuffer src(bytes), dst(bytes);
    ELMAN_CUDA_CHECK(cudaMemsetAsync(src.get(), 0, bytes, stream));
    const Summary s = timer.time(stream, 2, kNoSetup, [&](int) {
      ELMAN_CUDA_CHECK(
          cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream));
    });
    rates.copy_byte_per_s = 2.0 * double(bytes) / (s.median_ms * 1e-3);
    rates.copy_what = "cudaMemcpy device-to-device 1 GiB (read + write), median of 20";
  }
  return rates;
}

// ---- one shape ----------------------------------------------------------------------------

// The inputs of one rotation: the same device buffers feed elman and cuDNN.
struct InputSet {
  Tensor x, h0, dy, dhy;  // [T,B,I], [L*D,B,H], [T,B,D*H], [L*D,B,H]
};

const char* algo_name(cudnnRNNAlgo_t a) {
  switch (a) {
    case CUDNN_RNN_ALGO_STANDARD:
      return "STANDARD";
    case CUDNN_RNN_ALGO_PERSIST_STATIC:
      return "PERSIST_STATIC";
    case CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H:
      return "PERSIST_STATIC_SMALL_H";
    case CUDNN_RNN_ALGO_PERSIST_DYNAMIC:
      return "PERSIST_DYNAMIC";
    default:
      return "?";
  }
}

struct CudnnShared {
  const CudnnApi& api;
  cudnnHandle_t handle;
  cudnnDropoutDescriptor_t dropout;
  cudaStream_t stream;
};

// cuDNN set up for one shape and algorithm on the shared handle.
CudnnRnnSpec cudnn_spec(cudnnRNNAlgo_t algo, const BenchConfig& cfg, const RNNOptions& options,
                        int64_t batch, int64_t seq_len, const std::vector<int64_t>& lengths) {
  CudnnRnnSpec spec;
  spec.algo = algo;
  spec.tf32 = cfg.cudnn_tf32;
  spec.options = options;
  spec.batch = int(batch);
  spec.seq_len = int(seq_len);
  spec.lengths.assign(lengths.begin(), lengths.end());
  return spec;
}

// Records a refusal: cuDNN said no to this algorithm for this shape (SideResult or StreamSide).
template <typename Side>
bool rejected(Side& side, const std::string& refusal) {
  if (refusal.empty()) return false;
  side.status = "rejected";
  side.reason = refusal;
  return true;
}

// `call: status` when `st` is not success, else "".
std::string refusal_of(const CudnnApi& api, const char* call, cudnnStatus_t st) {
  return st == CUDNN_STATUS_SUCCESS ? "" : std::string(call) + ": " + api.cudnnGetErrorString(st);
}

// One cuDNN algorithm on one shape: agreement with elman on input set 0, then timing. `lengths`
// empty: every sequence has length T; else a varlen row. An algorithm that takes the shape for
// inference but refuses training is still checked and timed for inference ("inference only").
void run_cudnn_algo(const CudnnShared& cs, cudnnRNNAlgo_t algo, const BenchShape& shape,
                    const std::vector<int64_t>& lengths, const BenchConfig& cfg,
                    const Tensor& elman_params, const std::vector<InputSet>& sets,
                    const ElmanResults& ref, EventTimer& timer, SideResult& side) {
  const CudnnApi& api = cs.api;
  const int64_t T = shape.seq_len, B = shape.batch, H = shape.hidden, I = shape.input_size;
  const int64_t D = shape.directions(), LD = shape.layers * D;
  side.name = algo_name(algo);
  const bool varlen = !lengths.empty();
  CudnnRnn rnn(api, cs.handle, cs.dropout, cs.stream,
               cudnn_spec(algo, cfg, shape.options(), B, T, lengths));
  if (rejected(side, rnn.refusal())) return;
  rnn.set_weights(elman_params);
  DeviceBuffer y(size_t(T * B * D * H) * 4), hy(size_t(LD * B * H) * 4);
  DeviceBuffer dx(size_t(T * B * I) * 4), dhx(size_t(LD * B * H) * 4);
  cudaStream_t stream = cs.stream;

  // Agreement on input set 0, before any timing: inference first, then training where cuDNN
  // takes it.
  const InputSet& s0 = sets[0];
  if (rejected(side, refusal_of(api, "cudnnRNNForward(inference)",
                                rnn.forward(false, s0.x.data(), s0.h0.data(), y.f(), hy.f()))))
    return;
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> y_inf = download(y.f(), T * B * D * H);
  side.errors["y_inference"] = relative_error(ref.y_inference, y_inf);
  side.errors["h_n_inference"] = relative_error(ref.h_n, download(hy.f(), LD * B * H));
  if (varlen) {  // outputs past each end: zero on both sides (cuDNN's padding fill, elman's rule)
    side.errors["pad_y_inference_elman"] = double(ref.pad_y_inference);
    side.errors["pad_y_inference_cudnn"] =
        double(count_nonzero_padding(y_inf, lengths, T, B, D * H));
  }
  std::string no_training = rnn.training_refusal();
  if (no_training.empty())
    no_training = refusal_of(api, "cudnnRNNForward(training)",
                             rnn.forward(true, s0.x.data(), s0.h0.data(), y.f(), hy.f()));
  if (no_training.empty()) {
    rnn.zero_weight_grads();
    no_training = refusal_of(api, "cudnnRNNBackwardData_v8/BackwardWeights_v8",
                             rnn.backward(s0.x.data(), s0.h0.data(), y.f(), s0.dy.data(),
                                          s0.dhy.data(), dx.f(), dhx.f()));
  }
  if (no_training.empty()) {
    ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::vector<float> y_train = download(y.f(), T * B * D * H);
    std::vector<float> dx_cudnn = download(dx.f(), T * B * I);
    side.errors["y"] = relative_error(ref.y, y_train);
    side.errors["h_n"] = relative_error(ref.h_n, download(hy.f(), LD * B * H));
    if (varlen) {
      side.errors["pad_y_elman"] = double(ref.pad_y);
      side.errors["pad_dx_elman"] = double(ref.pad_dx);
      side.errors["pad_y_cudnn"] = double(count_nonzero_padding(y_train, lengths, T, B, D * H));
      // cuDNN's padding fill is documented for outputs of the forward; its dx past the ends is
      // not specified, so it is compared where it is defined (elman's is checked zero above).
      zero_padding(dx_cudnn, lengths, T, B, I);
    }
    side.errors["dx"] = relative_error(ref.dx, dx_cudnn);
    side.errors["dh0"] = relative_error(ref.dh0, download(dhx.f(), LD * B * H));
    side.errors["dw"] = relative_error(ref.dw, rnn.weight_grads());
  }
  const double fwd_tol = cfg.cudnn_tf32 ? kTf32Tolerance : kForwardTolerance;
  const double grad_tol = cfg.cudnn_tf32 ? kTf32Tolerance : kGradientTolerance;
  const std::string bad = disagreements(side.errors, fwd_tol, grad_tol);
  if (!bad.empty()) {
    side.status = "disagrees";
    side.reason = bad;
    return;
  }

  // Timing: inputs rotated, nothing allocated, every status checked after the loop. The
  // training phases only where cuDNN trains this shape.
  const int K = int(sets.size());
  auto in = [&](int i) -> const InputSet& { return sets[size_t(i % K)]; };
  cudnnStatus_t worst = CUDNN_STATUS_SUCCESS;
  auto note = [&](cudnnStatus_t st) {
    if (st != CUDNN_STATUS_SUCCESS) worst = st;
  };
  auto train_forward = [&](int i) {
    note(rnn.forward(true, in(i).x.data(), in(i).h0.data(), y.f(), hy.f()));
  };
  auto backward = [&](int i) {
    note(rnn.backward(in(i).x.data(), in(i).h0.data(), y.f(), in(i).dy.data(), in(i).dhy.data(),
                      dx.f(), dhx.f()));
  };
  const int wu = cfg.warmup;
  side.phases[int(Phase::kInference)] = timer.time(stream, wu, kNoSetup, [&](int i) {
    note(rnn.forward(false, in(i).x.data(), in(i).h0.data(), y.f(), hy.f()));
  });
  if (no_training.empty()) {
    side.phases[int(Phase::kTrainForward)] = timer.time(stream, wu, kNoSetup, train_forward);
    side.phases[int(Phase::kBackward)] = timer.time(stream, wu, train_forward, backward);
    side.phases[int(Phase::kStep)] = timer.time(stream, wu, kNoSetup, [&](int i) {
      train_forward(i);
      backward(i);
    });
  }
  if (worst != CUDNN_STATUS_SUCCESS) {
    side.status = "error";
    side.reason = std::string("a timed call returned ") + api.cudnnGetErrorString(worst);
    return;
  }
  side.timed = true;
  side.status = no_training.empty() ? "ok" : "inference only";
  side.reason = no_training;
}

void run_shape(Context& ctx, const CudnnShared& cs, const BenchConfig& cfg, EventTimer& timer,
               ShapeResult& r) {
  const BenchShape& s = r.shape;
  const Device dev = ctx.device();
  const int64_t T = s.seq_len, B = s.batch, H = s.hidden, D = s.directions();
  const int64_t LD = s.layers * D;
  const std::vector<int64_t>& lens = r.lengths;  // empty: every sequence runs T steps
  RNN rnn(ctx, s.options(), cfg.seed);

  std::vector<InputSet> sets;
  for (int k = 0; k < cfg.rotations; ++k) {
    const uint64_t seed = cfg.seed * 1000003u + uint64_t(k) * 4;
    InputSet in;
    in.x =
        Tensor::from_vector({T, B, s.input_size}, random_values(T * B * s.input_size, seed), dev);
    in.h0 = Tensor::from_vector({LD, B, H}, random_values(LD * B * H, seed + 1), dev);
    in.dy = Tensor::from_vector({T, B, D * H}, random_values(T * B * D * H, seed + 2), dev);
    in.dhy = Tensor::from_vector({LD, B, H}, random_values(LD * B * H, seed + 3), dev);
    sets.push_back(std::move(in));
  }

  // elman's results on set 0 (these calls also size every workspace, so timing allocates nothing).
  RNNOutput inf_out, train_out;
  RNNCache cache;
  RNNInputGrads grads;
  const ElmanResults ref = elman_results(rnn, sets[0].x, sets[0].h0, sets[0].dy, sets[0].dhy, lens,
                                         inf_out, train_out, cache, grads);

  // cuDNN, every algorithm; each checked against elman before it is timed.
  for (cudnnRNNAlgo_t algo :
       {CUDNN_RNN_ALGO_STANDARD, CUDNN_RNN_ALGO_PERSIST_STATIC,
        CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H, CUDNN_RNN_ALGO_PERSIST_DYNAMIC}) {
    SideResult side;
    side.name = algo_name(algo);
    try {
      run_cudnn_algo(cs, algo, s, lens, cfg, rnn.flat_parameters(), sets, ref, timer, side);
    } catch (const std::exception& e) {
      side.status = "error";
      side.reason = failure_text(e);
      cudaGetLastError();  // a failed allocation is not sticky; leave the next algorithm a clean
                           // slate
    }
    r.peers.push_back(side);
    if (side.status == "ok") r.verified = true;
  }
  r.elman.name = "elman";
  if (!r.verified) {
    r.elman.status = "unverified";
    r.elman.reason = "no cuDNN algorithm ran and agreed";
    return;
  }

  const int K = cfg.rotations, wu = cfg.warmup;
  cudaStream_t stream = cs.stream;
  auto in = [&](int i) -> const InputSet& { return sets[size_t(i % K)]; };
  // Times the model's current algorithm into `side`.
  auto time_elman = [&](SideResult& side) {
    side.phases[int(Phase::kInference)] = timer.time(
        stream, wu, kNoSetup, [&](int i) { rnn.forward_into(in(i).x, in(i).h0, inf_out, lens); });
    side.phases[int(Phase::kTrainForward)] = timer.time(stream, wu, kNoSetup, [&](int i) {
      rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens);
    });
    side.phases[int(Phase::kBackward)] = timer.time(
        stream, wu,
        [&](int i) { rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens); },
        [&](int i) { rnn.backward_into(cache, in(i).dy, in(i).dhy, grads); });
    side.phases[int(Phase::kStep)] = timer.time(stream, wu, kNoSetup, [&](int i) {
      rnn.forward_train_into(in(i).x, in(i).h0, cache, train_out, lens);
      rnn.backward_into(cache, in(i).dy, in(i).dhy, grads);
    });
    side.timed = true;
    side.status = "ok";
  };
  time_elman(r.elman);

  // elman's other algorithms: each agrees with the default's results on set 0, then is timed.
  for (Algorithm a : {Algorithm::kFusedStep, Algorithm::kPersistent, Algorithm::kGraph}) {
    SideResult side;
    side.name = "elman " + algorithm_name(a);
    try {
      rnn.set_algorithm(a);
      const ElmanResults got = elman_results(rnn, sets[0].x, sets[0].h0, sets[0].dy, sets[0].dhy,
                                             lens, inf_out, train_out, cache, grads);
      side.errors = {{"y_inference", relative_error(got.y_inference, ref.y_inference)},
                     {"y", relative_error(got.y, ref.y)},
                     {"h_n", relative_error(got.h_n, ref.h_n)},
                     {"dx", relative_error(got.dx, ref.dx)},
                     {"dh0", relative_error(got.dh0, ref.dh0)},
                     {"dw", relative_error(got.dw, ref.dw)}};
      const std::string bad = disagreements(side.errors, kForwardTolerance, kGradientTolerance);
      if (bad.empty()) {
        time_elman(side);
      } else {
        side.status = "disagrees";
        side.reason = bad;
      }
    } catch (const std::exception& e) {
      side.status = "error";
      side.reason = failure_text(e);
      cudaGetLastError();
    }
    r.algorithms.push_back(side);
  }
  rnn.set_algorithm(Algorithm::kAuto);
}

// ---- streaming ----------------------------------------------------------------------------

// One streaming shape's inputs on the device and elman's full forward over them (host).
struct StreamInputs {
  Tensor x_all, h0;           // [N, B, I], [L, B, H]
  std::vector<float> y, h_n;  // elman's forward over all N steps
};

// cuDNN's peer of one step: cudnnRNNForward (inference) with seqLength 1, the hidden state
// carried between calls in two buffers used in turn (hx of a call is hy of the previous one).
void run_cudnn_stream_algo(const CudnnShared& cs, cudnnRNNAlgo_t algo, const StreamShape& shape,
                           const BenchConfig& cfg, const Tensor& elman_params,
                           const StreamInputs& in, EventTimer& timer, StreamSide& side) {
  const CudnnApi& api = cs.api;
  const int64_t B = shape.batch, H = shape.hidden, I = shape.input_size, L = shape.layers;
  const int64_t N = cfg.stream_warmup + cfg.stream_steps;
  side.name = algo_name(algo);
  CudnnRnn rnn(api, cs.handle, cs.dropout, cs.stream,
               cudnn_spec(algo, cfg, shape.options(), B, 1, {}));
  if (rejected(side, rnn.refusal())) return;
  rnn.set_weights(elman_params);
  const size_t state_bytes = size_t(L * B * H) * 4;
  DeviceBuffer hx_a(state_bytes), hx_b(state_bytes), y_all(size_t(N * B * H) * 4);

  cudaStream_t stream = cs.stream;
  const float* x = in.x_all.data();
  float* cur = hx_a.f();
  float* next = hx_b.f();
  auto step = [&](int64_t t) {
    const cudnnStatus_t st = rnn.forward(false, x + t * B * I, cur, y_all.f() + t * B * H, next);
    std::swap(cur, next);
    return st;
  };
  auto restart = [&] {
    cur = hx_a.f();
    next = hx_b.f();
    ELMAN_CUDA_CHECK(
        cudaMemcpyAsync(cur, in.h0.data(), state_bytes, cudaMemcpyDeviceToDevice, stream));
  };

  // Agreement with elman's full forward over the same sequence, before any timing.
  restart();
  for (int64_t t = 0; t < N; ++t)
    if (rejected(side, refusal_of(api, "cudnnRNNForward(seqLength 1)", step(t)))) return;
  ELMAN_CUDA_CHECK(cudaStreamSynchronize(stream));
  const std::vector<float> checked_state = download(cur, L * B * H);
  side.errors["stream_y_vs_elman_forward"] = relative_error(in.y, download(y_all.f(), N * B * H));
  side.errors["stream_h_n_vs_elman_forward"] = relative_error(in.h_n, checked_state);
  const double tol = cfg.cudnn_tf32 ? kTf32Tolerance : kForwardTolerance;
  std::string bad = disagreements(side.errors, tol, tol);
  if (!bad.empty()) {
    side.status = "disagrees";
    side.reason = bad;
    return;
  }

  // Timing: the same stream again, each step between its own events.
  restart();
  cudnnStatus_t worst = CUDNN_STATUS_SUCCESS;
  side.per_step = timer.time_each(
      stream, cfg.stream_warmup,
      [&](int t) {
        const cudnnStatus_t st = step(t);
        if (st != CUDNN_STATUS_SUCCESS) worst = st;
      },
      &side.host_wall);
  if (worst != CUDNN_STATUS_SUCCESS) {
    side.status = "error";
    side.reason = std::string("a timed call returned ") + api.cudnnGetErrorString(worst);
    return;
  }
  side.errors["timed_h_n_vs_checked"] = relative_error(download(cur, L * B * H), checked_state);
  bad = disagreements(side.errors, tol, tol);
  if (!bad.empty()) {
    side.status = "disagrees";
    side.reason = bad;
    return;
  }
  side.timed = true;
  side.status = "ok";
}

void run_stream(Context& ctx, const CudnnShared& cs, const BenchConfig& cfg, EventTimer& timer,
                StreamResult& r) {
  const StreamShape& s = r.shape;
  const Device dev = ctx.device();
  const int64_t B = s.batch, H = s.hidden, I = s.input_size, L = s.layers;
  const int64_t N = cfg.stream_warmup + cfg.stream_steps;
  r.steps = cfg.stream_steps;
  r.warmup = cfg.stream_warmup;
  r.timing =
      "CUDA events around each step, the stream synchronised after each step (a serving loop "
      "waits for every output; host wall clock per step in the JSON)";
  RNN rnn(ctx, s.options(), cfg.seed);
  const uint64_t seed = cfg.seed * 1000003u + 977;  // the CPU side's inputs too
  StreamInputs in;
  in.x_all = Tensor::from_vector({N, B, I}, random_values(N * B * I, seed), dev);
  in.h0 = Tensor::from_vector({L, B, H}, random_values(L * B * H, seed + 1), dev);
  std::vector<Tensor> x_steps;  // views, made before any timing
  for (int64_t t = 0; t < N; ++t) x_steps.push_back(in.x_all.view({B, I}, t * B * I));
  {
    RNNOutput full;
    rnn.forward_into(in.x_all, in.h0, full);
    in.y = full.output.to_vector();
    in.h_n = full.h_n.to_vector();
  }

  // elman's stream against its own full forward, before any timing.
  std::vector<float> checked_state;
  if (!stream_matches_forward(rnn, in.h0, x_steps, in.y, in.h_n, r.elman, checked_state)) return;

  for (cudnnRNNAlgo_t algo :
       {CUDNN_RNN_ALGO_STANDARD, CUDNN_RNN_ALGO_PERSIST_STATIC,
        CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H, CUDNN_RNN_ALGO_PERSIST_DYNAMIC}) {
    StreamSide side;
    side.name = algo_name(algo);
    try {
      run_cudnn_stream_algo(cs, algo, s, cfg, rnn.flat_parameters(), in, timer, side);
    } catch (const std::exception& e) {
      side.status = "error";
      side.reason = failure_text(e);
      cudaGetLastError();
    }
    r.peers.push_back(side);
    if (side.status == "ok") r.verified = true;
  }
  if (!r.verified) {
    r.elman.status = "unverified";
    r.elman.reason = "no cuDNN algorithm ran and agreed";
    return;
  }

  // The timed pass: the same stream again from h0.
  RNNOutput out{Tensor::empty({B, H}, dev), in.h0.clone()};
  r.elman.per_step = timer.time_each(
      cs.stream, cfg.stream_warmup, [&](int t) { rnn.step_into(x_steps[size_t(t)], out.h_n, out); },
      &r.elman.host_wall);
  r.elman.errors["timed_h_n_vs_checked"] = relative_error(out.h_n.to_vector(), checked_state);
  const std::string bad = disagreements(r.elman.errors, kStreamTolerance, kStreamTolerance);
  if (!bad.empty()) {
    r.elman.status = "disagrees";
    r.elman.reason = bad;
    r.verified = false;
    return;
  }
  r.elman.timed = true;
  r.elman.status = "ok";
}

std::string version_str(int v) {  // CUDA's 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

BenchRun run_gpu_bench(const std::vector<BenchShape>& shapes,
                       const std::vector<StreamShape>& stream_shapes, const BenchConfig& config,
                       nlohmann::json& env, Rates& rates) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    const std::string why = status != cudaSuccess ? std::string(cudaGetErrorName(status)) + ": " +
                                                        cudaGetErrorString(status)
                                                  : "cudaGetDeviceCount found 0 devices";
    throw Error("elman-bench: no CUDA device (" + why +
                "). Use --device cpu to compare elman's CPU backend with PyTorch.");
  }
  std::string why;
  const CudnnApi* api = load_cudnn(&why);
  if (!api) throw Error("elman-bench: " + why);

  ELMAN_CUDA_CHECK(cudaSetDevice(0));
  cudaDeviceProp prop{};
  ELMAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int driver = 0, runtime = 0;
  ELMAN_CUDA_CHECK(cudaDriverGetVersion(&driver));
  ELMAN_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  env["device"] = prop.name;
  env["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  env["multiprocessors"] = prop.multiProcessorCount;
  env["memory_bytes"] = prop.totalGlobalMem;
  env["cuda_driver"] = version_str(driver);
  env["cuda_runtime"] = version_str(runtime);
  env["cudnn"] = std::to_string(api->version / 10000) + "." +
                 std::to_string((api->version % 10000) / 100) + "." +
                 std::to_string(api->version % 100);
  env["cudnn_library"] = api->library;
  env["cudnn_cudart"] = version_str(int(api->cudnnGetCudartVersion()));
  env["cudnn_math"] = config.cudnn_tf32 ? "CUDNN_TENSOR_OP_MATH (TF32 allowed)"
                                        : "CUDNN_FMA_MATH (FP32, like elman)";

  Stream stream;
  Context ctx(Device::cuda(0), stream.get());
  rates = measure_rates(ctx, stream.get(), prop.name);

  cudnnHandle_t handle_raw = nullptr;
  ELMAN_CUDNN_CHECK(*api, cudnnCreate(&handle_raw));
  CudnnOwned<cudnnHandle_t> handle(handle_raw, api->cudnnDestroy);
  ELMAN_CUDNN_CHECK(*api, cudnnSetStream(handle.get(), stream.get()));
  // Dropout 0 (none), with its state buffer as cuDNN asks for one.
  cudnnDropoutDescriptor_t drop_raw = nullptr;
  ELMAN_CUDNN_CHECK(*api, cudnnCreateDropoutDescriptor(&drop_raw));
  CudnnOwned<cudnnDropoutDescriptor_t> dropout(drop_raw, api->cudnnDestroyDropoutDescriptor);
  size_t state_bytes = 0;
  ELMAN_CUDNN_CHECK(*api, cudnnDropoutGetStatesSize(handle.get(), &state_bytes));
  DeviceBuffer states(state_bytes);
  ELMAN_CUDNN_CHECK(*api, cudnnSetDropoutDescriptor(dropout.get(), handle.get(), 0.0f, states.get(),
                                                    state_bytes, config.seed));
  const CudnnShared cs{*api, handle.get(), dropout.get(), stream.get()};
  EventTimer timer(config.runs);

  BenchRun run;
  std::vector<ShapeResult>& results = run.shapes;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ShapeResult r;
    r.shape = shapes[i];
    if (r.shape.varlen)
      r.lengths = draw_lengths(r.shape.batch, r.shape.seq_len,
                               lengths_seed(config.seed, r.shape.batch, r.shape.seq_len));
    fill_counts(r, rates);
    std::cerr << "[" << i + 1 << "/" << shapes.size() << "] " << r.shape.name() << std::flush;
    try {
      run_shape(ctx, cs, config, timer, r);
      // A varlen row every cuDNN algorithm rejected: if cuDNN turns out to want sorted lengths
      // after all, run the row again with the lengths sorted longest-first on both sides (the
      // inputs are i.i.d., so this is the same batch in another order), and say so.
      bool all_rejected = r.shape.varlen && !r.verified && !r.peers.empty();
      for (const SideResult& p : r.peers) all_rejected = all_rejected && p.status == "rejected";
      if (all_rejected) {
        ShapeResult sorted;
        sorted.shape = r.shape;
        sorted.lengths = r.lengths;
        std::sort(sorted.lengths.begin(), sorted.lengths.end(), std::greater<int64_t>());
        sorted.note =
            "lengths sorted longest-first on both sides: with them unsorted every cuDNN "
            "algorithm rejected the batch (" +
            r.peers[0].reason + ")";
        fill_counts(sorted, rates);
        run_shape(ctx, cs, config, timer, sorted);
        r = std::move(sorted);
      }
    } catch (const std::exception& e) {
      r.error = failure_text(e);
      cudaGetLastError();
    }
    std::cerr << (r.error.empty() ? (r.verified ? "  ok" : "  unverified") : "  failed") << "\n";
    results.push_back(std::move(r));
  }
  if (!stream_shapes.empty()) {
    EventTimer stream_timer(config.stream_steps);
    for (size_t i = 0; i < stream_shapes.size(); ++i) {
      StreamResult r;
      r.shape = stream_shapes[i];
      std::cerr << "[stream " << i + 1 << "/" << stream_shapes.size() << "] " << r.shape.name()
                << std::flush;
      try {
        run_stream(ctx, cs, config, stream_timer, r);
      } catch (const std::exception& e) {
        r.error = failure_text(e);
        cudaGetLastError();
      }
      std::cerr << (r.error.empty() ? (r.verified ? "  ok" : "  unverified") : "  failed") << "\n";
      run.streaming.push_back(std::move(r));
    }
  }
  return run;
}

}  // namespace elman::bench
