// Learning-rate schedules with torch.optim.lr_scheduler's formulas (StepLR, CosineAnnealingLR),
// stepped once per epoch as the usual PyTorch loop does (scheduler.step() after each epoch).
#pragma once

#include <cstdint>
#include <string>

namespace elman {

struct LRSchedule {
  enum class Kind { kConstant, kStep, kCosine };
  Kind kind = Kind::kConstant;
  int64_t step_size = 1;  // kStep: the rate is multiplied by gamma every step_size epochs
  double gamma = 0.1;
  int64_t t_max = 1;     // kCosine: half a period, in epochs (PyTorch's T_max)
  double eta_min = 0.0;  // kCosine: the lowest rate

  static LRSchedule constant() { return {}; }
  static LRSchedule step(int64_t step_size, double gamma = 0.1);
  static LRSchedule cosine(int64_t t_max, double eta_min = 0.0);

  // The rate during epoch `epoch` (0-based: PyTorch's last_epoch after `epoch` scheduler steps)
  // for a run started at `base_lr`:
  //   kStep:   base_lr * gamma^floor(epoch / step_size)
  //   kCosine: eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2
  // (PyTorch computes the same values recursively; they agree to rounding.)
  double rate_at(double base_lr, int64_t epoch) const;

  // Throws elman::Error naming the bad field (step_size, t_max >= 1; gamma, eta_min finite,
  // gamma > 0, eta_min >= 0).
  void validate() const;

  // "constant", "step:STEP_SIZE[:GAMMA]", "cosine:T_MAX[:ETA_MIN]": what elman-train's
  // --lr-schedule takes and a training checkpoint records; parse(str()) == *this.
  std::string str() const;
  static LRSchedule parse(const std::string& text);  // elman::Error on anything else

  bool operator==(const LRSchedule& o) const { return str() == o.str(); }
  bool operator!=(const LRSchedule& o) const { return !(*this == o); }
};

}  // namespace elman
