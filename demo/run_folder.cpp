// The run folder and the progress output shared by every elman-train scenario.
#include "run_folder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>

#include "ranks.h"

namespace demo {

elman::Device pick_device(const std::string& name) {
  if (name == "cpu") return elman::Device::cpu();
  const char* why_no_cuda =
      elman::built_with_cuda() ? "no CUDA device is present" : "this elman was built without CUDA";
  if (name == "cuda") {
    if (!elman::cuda_available())
      throw elman::Error(std::string("--device cuda: ") + why_no_cuda +
                         " (use --device cpu or auto)");
    return elman::Device::cuda(local_device_index());
  }
  if (name == "auto") {
    if (elman::cuda_available()) return elman::Device::cuda(local_device_index());
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
                        int64_t total_epochs, const RunIdentity& identity,
                        elman::TrainerOptions& to) {
  to.checkpoint_path = (dir / kTrainingCheckpoint).string();
  to.checkpoint_metadata = identity;
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

std::string content_fingerprint(const std::string& bytes) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::to_string(bytes.size()) + " bytes, fnv1a64 " + hex;
}

std::string file_fingerprint(const std::string& path) {
  return content_fingerprint(elman::read_text_file(path));
}

namespace {

// "\n  key: this run 'a', the checkpoint 'b'" for every key of `wanted` that `recorded` lacks
// or holds with another value.
std::string differences_from(const RunIdentity& wanted,
                             const std::map<std::string, std::string>& recorded) {
  std::string differences;
  auto shown = [](const std::string& v) {
    return v.size() > 60 ? "'" + v.substr(0, 60) + "...'" : "'" + v + "'";
  };
  for (const auto& [key, value] : wanted) {
    const auto it = recorded.find(key);
    if (it == recorded.end())
      differences += "\n  " + key + ": this run " + shown(value) + ", the checkpoint none";
    else if (it->second != value)
      differences +=
          "\n  " + key + ": this run " + shown(value) + ", the checkpoint " + shown(it->second);
  }
  return differences;
}

}  // namespace

void check_same_run(const std::string& checkpoint, const RunIdentity& identity,
                    const std::map<std::string, std::string>& recorded) {
  const std::string differences = differences_from(identity, recorded);
  if (!differences.empty())
    throw elman::Error("--resume: '" + checkpoint + "' was written by another run; it differs " +
                       "in what defines the data and the model:" + differences +
                       "\n(resume with the options of that run, or start a new run without "
                       "--resume)");
}

void check_same_training(const std::string& checkpoint, const RunIdentity& training,
                         const std::map<std::string, std::string>& recorded) {
  const std::string differences = differences_from(training, recorded);
  if (!differences.empty())
    throw elman::Error("--resume: '" + checkpoint +
                       "' was trained with other options:" + differences +
                       "\n(resume with that run's options, or pass --allow-changes to go on with "
                       "these)");
}

namespace {

namespace fs = std::filesystem;

fs::path g_created_folder;  // the folder make_run_folder created (discard_unused_run_folder)
fs::path g_run_folder;      // the folder make_run_folder returned (current_run_folder)

// The files a run writes: what --force removes from an old run (nothing else is touched).
const char* const kRunFiles[] = {"command.txt",        "metrics.csv",       "hidden_states.csv",
                                 "predictions.csv",    "model.safetensors", kTrainingCheckpoint,
                                 "learning_curve.png", "hidden_states.png", "forecast.png"};

bool is_run_file(const std::string& name) {
  for (const char* f : kRunFiles)
    if (name == f) return true;
  return false;
}

// A temporary file of an atomic write (<file>.tmp-...) that a killed process left behind.
bool is_stale_temporary(const std::string& name) {
  const size_t at = name.find(".tmp-");
  return at != std::string::npos && is_run_file(name.substr(0, at));
}

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

// make_run_folder's writing part (rank 0's): refuse or clear an old run, create, command.txt.
void make_run_folder_here(const CommonOptions& common, const fs::path& dir,
                          const std::string& resumed, const fs::path& resumed_dir);

}  // namespace

fs::path make_run_folder(const CommonOptions& common, const std::string& scenario,
                         const RunIdentity& identity, const RunIdentity& training) {
  const std::string resumed = resume_file(common.resume);
  if (!resumed.empty()) {        // before anything is written: a refused resume changes nothing
    checkpoint_epochs(resumed);  // a training checkpoint at all
    const auto recorded = elman::read_checkpoint_metadata(resumed);
    check_same_run(resumed, identity, recorded);
    if (!common.allow_changes) check_same_training(resumed, training, recorded);
  }
  const fs::path resumed_dir = resumed.empty() ? fs::path() : fs::path(resumed).parent_path();
  fs::path dir = common.out;
  if (dir.empty() && !resumed.empty()) dir = resumed_dir.empty() ? fs::path(".") : resumed_dir;
  if (dir.empty()) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    dir = fs::path("runs") / (scenario + "-" + stamp);
  }
  // Data parallel: rank 0 alone makes the folder; every rank learns its name from rank 0.
  if (is_rank0()) make_run_folder_here(common, dir, resumed, resumed_dir);
  if (ranks().size() > 1) {
    std::string name = dir.string();
    ranks().broadcast(name, 0);
    dir = name;
  }
  g_run_folder = dir;
  return dir;
}

namespace {

void make_run_folder_here(const CommonOptions& common, const fs::path& dir,
                          const std::string& resumed, const fs::path& resumed_dir) {
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  if (existed && !fs::is_directory(dir, ec))
    throw elman::Error("--out '" + dir.string() + "' exists and is not a folder");
  const bool in_place =
      !resumed.empty() && same_folder(dir, resumed_dir.empty() ? "." : resumed_dir);
  if (existed && !in_place) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
    if (!names.empty() && !common.force)
      throw elman::Error("--out '" + dir.string() + "' already holds " +
                         std::to_string(names.size()) + " file(s) (" + names.front() +
                         (names.size() > 1 ? ", ..." : "") + "): pass --resume " + dir.string() +
                         " to continue that run, --force to overwrite it, or another --out");
    for (const std::string& name : names)
      if (is_run_file(name)) fs::remove(dir / name, ec);
  }
  fs::create_directories(dir, ec);
  if (ec)
    throw elman::Error("cannot create the run folder '" + dir.string() + "': " + ec.message());
  if (!existed) g_created_folder = dir;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (is_stale_temporary(e.path().filename())) fs::remove(e.path(), ec);
  // command.txt: this command, after the commands of the run it resumes (in place).
  std::ofstream cmd(dir / "command.txt", in_place ? std::ios::app : std::ios::trunc);
  cmd << common.command_line << "\n";
  if (!cmd) throw elman::Error("cannot write '" + (dir / "command.txt").string() + "'");
}

}  // namespace

const fs::path& current_run_folder() { return g_run_folder; }

void discard_unused_run_folder() {
  if (g_created_folder.empty()) return;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(g_created_folder, ec))
    if (e.path().filename() != "command.txt") return;  // something of the run is there: keep it
  fs::remove_all(g_created_folder, ec);
  g_created_folder.clear();
}

void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& step) {
    const std::string reason = std::strerror(errno);
    std::error_code ec;
    fs::remove(tmp, ec);
    throw elman::Error("cannot write '" + path.string() + "' (" + step + "): " + reason);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create");
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("fsync");
  }
  if (::close(fd) != 0) fail("close");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename");
}

MetricsLog::MetricsLog(const fs::path& dir, int64_t keep_epochs, double unit_scale)
    : path_(dir / "metrics.csv"), unit_scale_(unit_scale) {
  if (keep_epochs <= 0) return;
  std::ifstream old(path_);
  std::string row;
  std::getline(old, row);  // the header
  while (std::getline(old, row))
    if (!row.empty() && std::atoll(row.c_str()) <= keep_epochs) rows_ += row + "\n";
}

void MetricsLog::add(const elman::EpochResult& r) {
  char line[128];
  std::snprintf(line, sizeof line, "%lld,%.9g,%.9g,%.6f\n", static_cast<long long>(r.epoch),
                r.train_loss * unit_scale_, r.val_loss * unit_scale_, r.seconds);
  rows_ += line;
  if (!is_rank0()) return;  // data parallel: rank 0 writes the run folder
  write_file_atomically(path_, "epoch,train_loss,val_loss,seconds\n" + rows_);
}

void write_hidden_states(const std::filesystem::path& dir, const std::vector<std::string>& inputs,
                         const std::vector<std::vector<float>>& states) {
  if (!is_rank0()) return;  // data parallel: rank 0 writes the run folder
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
