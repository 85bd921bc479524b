// The exchange with a Python peer (documented in python_exchange.h).
#include "bench/python_exchange.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "elman/error.h"

namespace elman::bench {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "elman-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw Error("elman-bench: cannot create a temporary directory");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_floats(const fs::path& p, const std::vector<float>& v) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  if (!out) throw Error("elman-bench: cannot write " + p.string());
}

std::vector<float> read_floats(const fs::path& p, size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::vector<float> v(n);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(float)));
  if (!in || in.peek() != EOF)
    throw Error("elman-bench: " + p.string() + " does not hold exactly " + std::to_string(n) +
                " floats (the PyTorch side failed?)");
  return v;
}

nlohmann::json ask_python(const std::string& python, const std::string& script,
                          const fs::path& request, std::string* why) {
  const std::string cmd = "'" + python + "' '" + script + "' '" + request.string() + "'";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    *why = "cannot run " + cmd;
    return nullptr;
  }
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(out);
  } catch (const std::exception& e) {
    if (code == 0) {
      *why = std::string("the script's output is not JSON: ") + e.what();
      return nullptr;
    }
  }
  if (code == 0) return j;
  if (j.is_object() && j.contains("error"))  // the script's own report, e.g. no torch
    *why = j["error"].get<std::string>();
  else
    *why = code == 127 ? "'" + python + "' was not found"
                       : "'" + cmd + "' exited with status " + std::to_string(code);
  return nullptr;
}

}  // namespace elman::bench
