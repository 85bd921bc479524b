// elman::LRSchedule: PyTorch's StepLR and CosineAnnealingLR in closed form, and their text form.
#include "elman/lr_schedule.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "elman/error.h"

namespace elman {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Shortest text that reads back as the same double.
std::string number(double v) {
  char buf[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == sep)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

double parse_number(const std::string& text, const std::string& what, const std::string& whole) {
  char* end = nullptr;
  const double v = text.empty() ? NAN : std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v))
    throw Error("lr schedule '" + whole + "': " + what + " '" + text + "' is not a number");
  return v;
}

int64_t parse_count(const std::string& text, const std::string& what, const std::string& whole) {
  const double v = parse_number(text, what, whole);
  if (v != std::floor(v) || v < 1 || v > 1e15)
    throw Error("lr schedule '" + whole + "': " + what + " '" + text +
                "' must be a whole number of epochs >= 1");
  return static_cast<int64_t>(v);
}

}  // namespace

namespace {

// A schedule of `kind` with the fields set() sets, checked.
template <typename Set>
LRSchedule checked_schedule(LRSchedule::Kind kind, const Set& set) {
  LRSchedule s;
  s.kind = kind;
  set(s);
  s.validate();
  return s;
}

}  // namespace

LRSchedule LRSchedule::step(int64_t step_size, double gamma) {
  return checked_schedule(Kind::kStep, [&](LRSchedule& s) {
    s.step_size = step_size;
    s.gamma = gamma;
  });
}

LRSchedule LRSchedule::cosine(int64_t t_max, double eta_min) {
  return checked_schedule(Kind::kCosine, [&](LRSchedule& s) {
    s.t_max = t_max;
    s.eta_min = eta_min;
  });
}

double LRSchedule::rate_at(double base_lr, int64_t epoch) const {
  switch (kind) {
    case Kind::kConstant:
      return base_lr;
    case Kind::kStep:
      return base_lr * std::pow(gamma, static_cast<double>(epoch / step_size));
    case Kind::kCosine:
      return eta_min +
             (base_lr - eta_min) *
                 (1.0 + std::cos(kPi * static_cast<double>(epoch) / static_cast<double>(t_max))) /
                 2.0;
  }
  return base_lr;
}

void LRSchedule::validate() const {
  if (kind == Kind::kStep) {
    if (step_size < 1)
      throw Error("lr schedule: step_size is " + std::to_string(step_size) + ", expected >= 1");
    if (!(std::isfinite(gamma) && gamma > 0))
      throw Error("lr schedule: gamma is " + number(gamma) + ", expected a finite value > 0");
  } else if (kind == Kind::kCosine) {
    if (t_max < 1)
      throw Error("lr schedule: t_max is " + std::to_string(t_max) + ", expected >= 1");
    if (!(std::isfinite(eta_min) && eta_min >= 0))
      throw Error("lr schedule: eta_min is " + number(eta_min) + ", expected a finite value >= 0");
  }
}

std::string LRSchedule::str() const {
  switch (kind) {
    case Kind::kConstant:
      return "constant";
    case Kind::kStep:
      return "step:" + std::to_string(step_size) + ":" + number(gamma);
    case Kind::kCosine:
      return "cosine:" + std::to_string(t_max) + ":" + number(eta_min);
  }
  return "constant";
}

LRSchedule LRSchedule::parse(const std::string& text) {
  const std::vector<std::string> p = split(text, ':');
  if (p[0] == "constant" && p.size() == 1) return constant();
  if (p[0] == "step" && (p.size() == 2 || p.size() == 3))
    return step(parse_count(p[1], "step_size", text),
                p.size() == 3 ? parse_number(p[2], "gamma", text) : 0.1);
  if (p[0] == "cosine" && (p.size() == 2 || p.size() == 3))
    return cosine(parse_count(p[1], "t_max", text),
                  p.size() == 3 ? parse_number(p[2], "eta_min", text) : 0.0);
  throw Error("lr schedule '" + text +
              "': expected constant, step:STEP_SIZE[:GAMMA] or cosine:T_MAX[:ETA_MIN]");
}

}  // namespace elman
