// elman-bench: elman against cuDNN (GPU) or PyTorch and oneDNN (CPU) on a grid of shapes, with FLOP
// counts, floors and agreement checks, or (--train) end-to-end training against PyTorch.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench/bench_config.h"
#include "bench/generated/bench_git_commit.h"
#include "bench/train_bench.h"
#include "elman/elman.h"

namespace {

namespace fs = std::filesystem;
using namespace elman::bench;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// A PyTorch script: beside the executable (copied there at build time), else in the source.
std::string default_script(const std::string& name) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(exe.parent_path() / name)) return (exe.parent_path() / name).string();
  return ELMAN_BENCH_SOURCE_DIR "/" + name;
}

// --train: the char-LM training side by side (train_bench.h); its own output and JSON.
int run_train(const TrainBenchConfig& tc, const std::string& json_path, nlohmann::json env) {
  const TrainResult r = run_train_bench(tc);
  std::cout << "elman-bench " << elman::version_string() << " (commit " << ELMAN_BENCH_GIT_COMMIT
            << (ELMAN_BENCH_GIT_DIRTY ? ", dirty tree" : "") << "), --train, "
            << env["date_utc"].get<std::string>() << "\n";
  if (!r.pytorch_version.empty()) std::cout << "PyTorch " << r.pytorch_version << "\n";
  print_train(std::cout, r);
  if (!json_path.empty()) {
    nlohmann::json j = train_to_json(r);
    j["environment"] = env;
    std::ofstream out(json_path);
    out << j.dump(2) << "\n";
    if (!out) throw elman::Error("elman-bench: cannot write --json file '" + json_path + "'");
    std::cout << "\nwrote " << json_path << "\n";
  }
  if (r.elman.status != "ok") return 1;
  // Both sides ran but their losses differ more than rounding explains: not a result.
  if (r.best_pytorch() && !train_losses_agree(r)) return 1;
  return 0;
}

// A --json file that cannot be written is found out before the benchmark runs, not after it:
// the file is opened for writing (and removed again when it did not exist).
void check_writable(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  if (existed && fs::is_directory(path, ec))
    throw elman::Error("--json: '" + path + "' is a folder, not a file");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw elman::Error("--json: cannot write '" + path + "': " + std::strerror(errno) +
                       " (checked before the benchmark runs)");
  ::close(fd);
  if (!existed) fs::remove(path, ec);
}

int run(int argc, char** argv) {
  CLI::App app{
      "elman-bench: elman's Elman RNN against cuDNN (--device cuda) or PyTorch's CPU "
      "nn.RNN (--device cpu), side by side, agreement checked before timing"};
  std::string device = "cuda", json_path;
  GridSelection sel;
  BenchConfig cfg;
  cfg.python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  cfg.script = default_script("pytorch_cpu.py");
  TrainBenchConfig tc;
  tc.text = ELMAN_BENCH_DATA_DIR "/tinyshakespeare.txt";
  tc.script = default_script("pytorch_train.py");
#ifdef ELMAN_BENCH_GPU_ABSENT  // a build without the GPU part says so where a user looks first
  const std::string cuda_note = " (cuda is not in this build: " ELMAN_BENCH_GPU_ABSENT ")";
#else
  const std::string cuda_note;
#endif
  app.add_option("--device", device,
                 "cuda (elman vs cuDNN) or cpu (elman vs PyTorch and oneDNN)" + cuda_note)
      ->check(CLI::IsMember({"cuda", "cpu"}));
  auto* quick = app.add_flag("--quick", sel.quick, "a subset of the grid that runs in < 1 minute");
  auto* deep = app.add_flag("--deepbench", sel.deepbench,
                            "only DeepBench's vanilla-RNN training shapes (H 1760/2048/2560 x "
                            "B 16/32/64/128, T 50)");
  auto* file = app.add_option("--shapes", sel.shapes_file,
                              "a shape file: one 'batch hidden seq_len layers uni|bi "
                              "[input_size] [varlen]' per line, '#' comments")
                   ->check(CLI::ExistingFile);
  quick->excludes(deep, file);
  deep->excludes(file);
  app.add_flag("--varlen", sel.varlen,
               "add a variable-length row after each shape (lengths uniform in [T/2, T], seeded, "
               "unsorted; --quick has two such rows without it)");
  bool streaming = false;
  app.add_flag("--streaming", streaming,
               "add the streaming-latency case: per-step latency of RNN::step_into on "
               "unidirectional shapes (--quick includes a few)");
  app.add_option("--stream-steps", cfg.stream_steps, "streaming: measured steps per shape")
      ->check(CLI::Range(1000, 1000000));
  app.add_option("--json", json_path, "write every number, versions and the commit to this file");
  app.add_option("--runs", cfg.runs, "timed runs per phase (median reported)")
      ->check(CLI::Range(20, 100000));
  app.add_option("--warmup", cfg.warmup, "untimed runs before them")->check(CLI::Range(1, 1000));
  app.add_option("--rotations", cfg.rotations, "input sets cycled through")
      ->check(CLI::Range(2, 16));
  app.add_option("--seed", cfg.seed, "seed of weights and inputs");
  app.add_flag("--cudnn-tf32", cfg.cudnn_tf32,
               "let cuDNN use TF32 tensor cores (default: CUDNN_FMA_MATH, FP32 like elman)");
  app.add_option("--python", cfg.python, "Python for the PyTorch side (--device cpu)");
  app.add_option("--script", cfg.script, "the PyTorch script (bench/pytorch_cpu.py)");
  app.add_option("--threads", cfg.threads,
                 "the CPU peers' threads, PyTorch's and oneDNN's (default: all cores; --train: "
                 "PyTorch at 1 and at all cores, the faster reported)");
  bool train_mode = false;
  auto* train = app.add_flag("--train", train_mode,
                             "instead of the shapes: one epoch of elman-train chars' char-LM in "
                             "elman and in PyTorch, sequences/s side by side (--device cpu)");
  auto* text = app.add_option("--text", tc.text, "--train: the text (data/tinyshakespeare.txt)")
                   ->check(CLI::ExistingFile);
  auto* chars = app.add_option("--train-chars", tc.max_chars,
                               "--train: its first N characters (default 300000)")
                    ->check(CLI::PositiveNumber);
  auto* train_script =
      app.add_option("--train-script", tc.script, "--train: the PyTorch script (pytorch_train.py)");
  text->needs(train);
  chars->needs(train);
  train_script->needs(train);
  train->excludes(quick, deep, file);
  CLI11_PARSE(app, argc, argv);

  check_writable(json_path);
  const bool cpu = device == "cpu";
  if (train_mode && !cpu)
    throw elman::Error("--train compares training on the CPU: use --device cpu");
  if (train_mode && (sel.varlen || streaming))
    throw elman::Error("--train runs no shapes: --varlen and --streaming do not apply");
  const BenchDevice bench_device = cpu ? BenchDevice::kCPU : BenchDevice::kCUDA;
  const std::vector<BenchShape> shapes = select_shapes(sel, bench_device);
  std::vector<StreamShape> stream_shapes;
  if (sel.quick || streaming)
    stream_shapes = !sel.shapes_file.empty() ? stream_shapes_from(shapes)
                                             : streaming_shapes(bench_device, sel.quick);
  if (streaming && stream_shapes.empty())
    std::cerr << "note: --streaming found no unidirectional shape in " << sel.shapes_file
              << " (streaming needs one): no streaming rows\n";

  nlohmann::json env;
  env["date_utc"] = utc_now();
  env["elman_version"] = elman::version_string();
  env["git_commit"] = ELMAN_BENCH_GIT_COMMIT;  // baked in at build time (git_commit.cmake)
  env["git_dirty"] = ELMAN_BENCH_GIT_DIRTY;
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  env["command"] = cmd;
  env["backend"] = device;
  env["runs"] = cfg.runs;
  env["warmup"] = cfg.warmup;
  env["rotations"] = cfg.rotations;
  env["stream_steps"] = cfg.stream_steps;
  env["stream_warmup_steps"] = cfg.stream_warmup;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  env["host"] = host;
  {  // a busy machine makes every time longer: record how busy it was
    std::ifstream load("/proc/loadavg");
    std::string one, five, fifteen;
    if (load >> one >> five >> fifteen) env["load_average"] = one + " " + five + " " + fifteen;
  }

  if (train_mode) {
    tc.python = cfg.python;
    if (cfg.threads > 0) {
      tc.pytorch_threads = {cfg.threads};
    } else {
      const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
      tc.pytorch_threads = cores > 1 ? std::vector<int>{1, cores} : std::vector<int>{1};
    }
    return run_train(tc, json_path, env);
  }

  Rates rates;
  const BenchRun run = cpu ? run_cpu_bench(shapes, stream_shapes, cfg, env, rates)
                           : run_gpu_bench(shapes, stream_shapes, cfg, env, rates);
  const std::vector<ShapeResult>& results = run.shapes;

  std::cout << "elman-bench " << elman::version_string() << " (commit " << ELMAN_BENCH_GIT_COMMIT
            << (ELMAN_BENCH_GIT_DIRTY ? ", dirty tree" : "") << ") on "
            << env["device"].get<std::string>() << ", " << env["date_utc"].get<std::string>()
            << "\n";
  if (!cpu)
    std::cout << "CUDA driver " << env["cuda_driver"].get<std::string>() << ", runtime "
              << env["cuda_runtime"].get<std::string>() << ", cuDNN "
              << env["cudnn"].get<std::string>() << " (" << env["cudnn_math"].get<std::string>()
              << ")\n";
  else {
    std::cout << "PyTorch " << env["pytorch"].get<std::string>() << "\noneDNN "
              << env["onednn"].get<std::string>();
    if (env["onednn_threads"].get<int>() > 0)
      std::cout << ", threads: " << env["onednn_threads"].get<int>()
                << "; timed: " << env["onednn_timing"].get<std::string>();
    std::cout << "\nelman: threads: " << env["elman_threads"] << ", "
              << env["elman_cpu_kernels"].get<std::string>() << " kernels\n";
  }
  std::cout << "compute rate: " << rates.gemm_flop_per_s / 1e12 << " TFLOP/s (" << rates.gemm_what
            << "); copy: " << rates.copy_byte_per_s / 1e9 << " GB/s (" << rates.copy_what
            << ")\n\n";
  const std::vector<std::string> cpu_peers = {"pytorch", "onednn"};  // side by side
  print_table(std::cout, results, "cuDNN algo", cpu ? cpu_peers : std::vector<std::string>{});
  if (!run.streaming.empty()) {
    std::cout << "\n";
    print_stream_table(std::cout, run.streaming, "cuDNN T=1",
                       cpu ? cpu_peers : std::vector<std::string>{});
  }

  int unverified = 0;
  for (const ShapeResult& r : results) unverified += !r.verified;
  for (const StreamResult& r : run.streaming) unverified += !r.verified;
  if (!json_path.empty()) {
    nlohmann::json j = to_json(results, rates);
    j["streaming"] = stream_to_json(run.streaming);
    j["environment"] = env;
    std::ofstream out(json_path);
    out << j.dump(2) << "\n";
    if (!out) throw elman::Error("elman-bench: cannot write --json file '" + json_path + "'");
    std::cout << "\nwrote " << json_path << "\n";
  }
  if (unverified) {
    std::cout << unverified << " of " << results.size() + run.streaming.size()
              << " shape(s) were not verified against a peer (see above)\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
