// Scenario `chars` (placeholder while it is written).
#include "scenarios.h"
namespace demo {
void add_chars(CLI::App& app, CommonOptions& common, int& status) {
  (void)app;
  (void)common;
  (void)status;
}
}  // namespace demo
