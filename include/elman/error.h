// elman::Error, the one exception type of the library.
// Every failure (bad shape, bad file, CUDA/cuBLAS status) is reported as one of these.
#pragma once

#include <stdexcept>
#include <string>

namespace elman {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace elman
