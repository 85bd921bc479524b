// The library's version, for reports (elman-bench's JSON) and for users' checks.
#pragma once

namespace elman {
constexpr int kVersionMajor = 0;
constexpr int kVersionMinor = 1;
constexpr int kVersionPatch = 0;
const char* version_string();  // "0.1.0"
}  // namespace elman
