// Where a test finds the files it reads from the source tree (fixtures, data sets, scripts):
// under $ELMAN_SOURCE_DIR when set (a bundle carried to another machine), else the configured tree.
#pragma once

#include <cstdlib>
#include <string>

namespace elman::test {

// `relative` is a path inside the source tree, e.g. "tests/fixtures/index.json".
inline std::string source_path(const std::string& relative) {
  const char* env = std::getenv("ELMAN_SOURCE_DIR");
  const std::string root = env && *env ? env : ELMAN_SOURCE_DIR;
  return root + "/" + relative;
}

}  // namespace elman::test
