// elman-train's pictures: tools/plot.py run on the finished run folder (demo/plots.h).
#include "plots.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace demo {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";  // where Debian's matplotlib installs

// `s` as one single-quoted shell word.
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

fs::path plot_script() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(exe.parent_path() / "plot.py", ec)) return exe.parent_path() / "plot.py";
  return ELMAN_TRAIN_PLOT_SCRIPT;  // the source tree's tools/plot.py
}

bool has_matplotlib() {
  const std::string probe = quoted(kPython) + " -c 'import matplotlib' >/dev/null 2>&1";
  return ::access(kPython, X_OK) == 0 && std::system(probe.c_str()) == 0;
}

}  // namespace

void draw_plots(const fs::path& dir) {
  const fs::path script = plot_script();
  const std::string by_hand = "/usr/bin/python3 " + script.string() + " " + dir.string();
  if (!has_matplotlib()) {
    std::cout << "plots: none drawn (no matplotlib for /usr/bin/python3: apt-get install "
                 "python3-matplotlib, then "
              << by_hand << ")\n";
    return;
  }
  std::cout << "plots (" << script.filename().string() << "):" << std::endl;  // before its lines
  const std::string command =
      quoted(kPython) + " " + quoted(script.string()) + " " + quoted(dir.string()) + " 2>&1";
  if (std::system(command.c_str()) != 0)
    std::cout << "plots: plot.py failed (the run's files are intact; try " << by_hand << ")\n";
}

}  // namespace demo
