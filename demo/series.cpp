// Scenario `series` (placeholder while it is written).
#include "scenarios.h"
namespace demo {
void add_series(CLI::App& app, CommonOptions& common, int& status) {
  (void)app;
  (void)common;
  (void)status;
}
}  // namespace demo
