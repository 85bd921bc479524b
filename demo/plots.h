// The pictures of a run: elman-train draws its run folder's PNGs (tools/plot.py) when Debian's
// matplotlib is present, and otherwise says how to get them.
#pragma once

#include <filesystem>

namespace demo {

// Runs plot.py (beside the executable, else the source tree's tools/plot.py) on `dir` with
// /usr/bin/python3 and prints where the PNGs are, or one line saying why there are none and
// the command that draws them. Never fails the run: a plot is a view of files already saved.
void draw_plots(const std::filesystem::path& dir);

}  // namespace demo
