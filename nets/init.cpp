#include "nets/init.h"

#include <cmath>

#include "core/error.h"

namespace cmbench {

namespace {
thread_local InitScope* current_scope = nullptr;
}

struct InitAccess {
  static InitScope* current() { return current_scope; }
  static std::optional<torch::Generator> generator() {
    if (!current_scope) return std::nullopt;
    return current_scope->generator_;
  }
  static bool shapes_only() { return current_scope && current_scope->shapes_only_; }
};

InitScope::InitScope(torch::Generator generator, bool shapes_only)
    : previous_(current_scope), generator_(std::move(generator)), shapes_only_(shapes_only) {
  current_scope = this;
}

InitScope::~InitScope() { current_scope = previous_; }

bool init_shapes_only() { return InitAccess::shapes_only(); }

uint64_t init_seed() {
  const auto generator = InitAccess::generator();
  if (!generator) throw InputError("network initialization outside an InitScope has no seed");
  return generator->current_seed();
}

InitMode parse_init_mode(const std::string& name) {
  if (name == "xavier_uniform") return InitMode::xavier_uniform;
  if (name == "xavier_normal") return InitMode::xavier_normal;
  if (name == "kaiming_uniform") return InitMode::kaiming_uniform;
  if (name == "kaiming_normal") return InitMode::kaiming_normal;
  throw InputError("unknown init mode '" + name + "'");
}

namespace {

torch::TensorOptions float32_options() {
  auto options = torch::TensorOptions().dtype(torch::kFloat32);
  return InitAccess::shapes_only() ? options.device(torch::kMeta) : options;
}

}  // namespace

torch::Tensor init_randn(const std::vector<int64_t>& shape) {
  if (InitAccess::shapes_only()) return torch::empty(shape, float32_options());
  return torch::randn(shape, InitAccess::generator().value_or(torch::Generator()), float32_options());
}

torch::Tensor init_rand(const std::vector<int64_t>& shape) {
  if (InitAccess::shapes_only()) return torch::empty(shape, float32_options());
  return torch::rand(shape, InitAccess::generator().value_or(torch::Generator()), float32_options());
}

torch::Tensor init_constant(const std::vector<int64_t>& shape, double value) {
  return torch::full(shape, value, float32_options());
}

torch::Tensor init_weight(const std::vector<int64_t>& shape, InitMode mode, int64_t fan_in, int64_t fan_out,
                          double scale) {
  const double in = static_cast<double>(fan_in), out = static_cast<double>(fan_out);
  // Every mode draws even when scale is 0, as the reference does, so later draws do not shift.
  switch (mode) {
    case InitMode::xavier_uniform: return (init_rand(shape) * 2 - 1) * std::sqrt(6 / (in + out)) * scale;
    case InitMode::xavier_normal: return init_randn(shape) * std::sqrt(2 / (in + out)) * scale;
    case InitMode::kaiming_uniform: return (init_rand(shape) * 2 - 1) * std::sqrt(3 / in) * scale;
    case InitMode::kaiming_normal: return init_randn(shape) * std::sqrt(1 / in) * scale;
  }
  throw std::logic_error("init_weight: bad mode");
}

}  // namespace cmbench
