// The run folder and the progress output shared by every elman-train scenario.
#include "run_folder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

namespace demo {

elman::Device pick_device(const std::string& name) {
  if (name == "cpu") return elman::Device::cpu();
  const char* why_no_cuda =
      elman::built_with_cuda() ? "no CUDA device is present" : "this elman was built without CUDA";
  if (name == "cuda") {
    if (!elman::cuda_available())
      throw elman::Error(std::string("--device cuda: ") + why_no_cuda +
                         " (use --device cpu or auto)");
    return elman::Device::cuda(0);
  }
  if (name == "auto") {
    if (elman::cuda_available()) return elman::Device::cuda(0);
    std::cerr << (elman::built_with_cuda() ? "elman-train: no CUDA device found"
                                           : "elman-train: built without CUDA")
              << ", running on the CPU\n";
    return elman::Device::cpu();
  }
  throw elman::Error("--device: unknown value '" + name + "', expected cpu, cuda or auto");
}

std::string bptt_str(int64_t k, int64_t steps) {
  if (k == 0 || k >= steps) return "full BPTT over " + std::to_string(steps) + " steps";
  return "truncated BPTT: " + std::to_string(steps) + " steps in chunks of " + std::to_string(k);
}

std::string resume_file(const std::string& resume) {
  if (resume.empty()) return "";
  std::filesystem::path p = resume;
  if (std::filesystem::is_directory(p)) p /= kTrainingCheckpoint;
  if (!std::filesystem::is_regular_file(p))
    throw elman::Error("--resume: '" + p.string() + "' does not exist (give a training " +
                       "checkpoint or the run folder that holds " + kTrainingCheckpoint + ")");
  return p.string();
}

int64_t checkpoint_epochs(const std::string& path) {
  const auto meta = elman::read_checkpoint_metadata(path);
  const auto it = meta.find("epoch");
  if (meta.count("elman_training_checkpoint") == 0 || it == meta.end())
    throw elman::Error("--resume: '" + path + "' is not a training checkpoint (no epoch in its " +
                       "metadata; model.safetensors holds the model only, resume from " +
                       kTrainingCheckpoint + ")");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw elman::Error("--resume: '" + path + "': bad epoch '" + it->second + "' in its metadata");
  }
}

std::string plan_resume(const CommonOptions& common, const std::filesystem::path& dir,
                        int64_t total_epochs, elman::TrainerOptions& to) {
  to.checkpoint_path = (dir / kTrainingCheckpoint).string();
  const std::string file = resume_file(common.resume);
  if (file.empty()) {
    to.epochs = total_epochs;
    return "";
  }
  const int64_t done = checkpoint_epochs(file);
  to.epochs = std::max<int64_t>(0, total_epochs - done);
  std::printf("resuming from %s: %lld epochs done, %lld to go (--epochs %lld in all)\n",
              file.c_str(), static_cast<long long>(done), static_cast<long long>(to.epochs),
              static_cast<long long>(total_epochs));
  return file;
}

std::filesystem::path make_run_folder(const CommonOptions& common, const std::string& scenario) {
  std::filesystem::path dir = common.out;
  if (dir.empty()) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    dir = std::filesystem::path("runs") / (scenario + "-" + stamp);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw elman::Error("cannot create the run folder '" + dir.string() + "': " + ec.message());
  std::ofstream cmd(dir / "command.txt");
  cmd << common.command_line << "\n";
  if (!cmd) throw elman::Error("cannot write '" + (dir / "command.txt").string() + "'");
  return dir;
}

void write_metrics(const std::filesystem::path& dir, const std::vector<elman::EpochResult>& epochs,
                   int64_t keep_epochs, double unit_scale) {
  const std::filesystem::path path = dir / "metrics.csv";
  std::vector<std::string> kept;  // a resumed run keeps the rows of the epochs before it
  if (keep_epochs > 0) {
    std::ifstream old(path);
    std::string row;
    std::getline(old, row);  // the header
    while (std::getline(old, row))
      if (!row.empty() && std::atoll(row.c_str()) <= keep_epochs) kept.push_back(row);
  }
  std::ofstream f(path);
  f << "epoch,train_loss,val_loss,seconds\n";
  for (const std::string& row : kept) f << row << "\n";
  char line[128];
  for (const auto& r : epochs) {
    std::snprintf(line, sizeof line, "%lld,%.9g,%.9g,%.6f\n", static_cast<long long>(r.epoch),
                  r.train_loss * unit_scale, r.val_loss * unit_scale, r.seconds);
    f << line;
  }
  if (!f) throw elman::Error("cannot write '" + path.string() + "'");
}

void write_hidden_states(const std::filesystem::path& dir, const std::vector<std::string>& inputs,
                         const std::vector<std::vector<float>>& states) {
  std::ofstream f(dir / "hidden_states.csv");
  f << "step,input";
  const size_t units = states.empty() ? 0 : states[0].size();
  for (size_t j = 0; j < units; ++j) f << ",h" << j;
  f << "\n";
  char num[32];
  for (size_t t = 0; t < states.size(); ++t) {
    std::string in = inputs[t];
    if (in.find_first_of(",\"\n") != std::string::npos) {  // CSV quoting
      std::string q = "\"";
      for (char c : in) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      in = q + "\"";
    }
    f << t + 1 << "," << in;
    for (float v : states[t]) {
      std::snprintf(num, sizeof num, ",%.9g", static_cast<double>(v));
      f << num;
    }
    f << "\n";
  }
  if (!f) throw elman::Error("cannot write '" + (dir / "hidden_states.csv").string() + "'");
}

std::vector<std::vector<float>> hidden_states_of(elman::RNN& rnn, const std::vector<float>& x,
                                                 int64_t steps) {
  const int64_t in = rnn.options().input_size;
  const elman::Device dev = rnn.context().device();
  const elman::Tensor input = elman::Tensor::from_vector({1, steps, in}, x, dev);
  const std::vector<float> out = rnn.forward(input).output.to_vector();  // [1, T, D*H]
  const int64_t width = static_cast<int64_t>(out.size()) / steps;
  std::vector<std::vector<float>> states;
  for (int64_t t = 0; t < steps; ++t)
    states.emplace_back(out.begin() + t * width, out.begin() + (t + 1) * width);
  return states;
}

void print_epoch(const elman::EpochResult& r, int64_t epochs, double unit_scale) {
  const int width = static_cast<int>(std::to_string(epochs).size());
  char line[200];
  std::snprintf(
      line, sizeof line, "epoch %*lld/%lld  train %10.4g  val %10.4g  %7.3f s  %9.0f seq/s", width,
      static_cast<long long>(r.epoch), static_cast<long long>(epochs), r.train_loss * unit_scale,
      r.val_loss * unit_scale, r.seconds, r.sequences_per_second);
  std::cout << line << std::endl;
}

std::string join_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (!plain) {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    line += (i ? " " : "") + a;
  }
  return line;
}

}  // namespace demo
