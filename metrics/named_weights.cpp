#include "metrics/named_weights.h"

#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/digest.h"
#include "core/error.h"

namespace cmbench {

bool parse_synthetic_seed(const std::string& weights, const std::string& label, uint32_t& seed) {
  const std::string prefix = "synthetic:";
  if (weights.rfind(prefix, 0) != 0) return false;
  const std::string digits = weights.substr(prefix.size());
  if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(fmt::format("{}: the seed must be an integer in [0, 2^32 - 1]", label));
  }
  const unsigned long long value = std::stoull(digits);
  if (value > 0xffffffffull) throw InputError(fmt::format("{}: the seed must be below 2^32", label));
  seed = static_cast<uint32_t>(value);
  return true;
}

std::string weights_spec_or_environment(const std::string& explicit_spec, const char* variable) {
  if (!explicit_spec.empty()) return explicit_spec;
  const char* value = std::getenv(variable);
  return value ? value : "";
}

std::string weights_sha256(const std::string& weights, const std::string& label) {
  uint32_t seed;
  if (parse_synthetic_seed(weights, label, seed)) return weights;
  return file_digest_hex(Digest::Kind::sha256, weights);
}

void copy_named_weights(const std::map<std::string, torch::Tensor>& given,
                        const std::vector<std::pair<std::string, torch::Tensor>>& targets, const NamedWeightsCheck& check) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (const auto& [name, target] : targets) {
    const auto it = given.find(name);
    if (it == given.end())
      throw InputError(fmt::format("{}: {} lack tensor '{}' {}", check.source, check.weights, name, check.missing_hint));
    if (it->second.sizes() != target.sizes()) {
      throw InputError(fmt::format("{}: tensor '{}' has shape [{}], expected [{}]", check.source, name,
                                   fmt::join(it->second.sizes(), ", "), fmt::join(target.sizes(), ", ")));
    }
    if (!it->second.is_floating_point())
      throw InputError(fmt::format("{}: tensor '{}' is not floating point", check.source, name));
    auto destination = target;  // a handle to the network's tensor
    destination.copy_(it->second.to(target.dtype()));
    used.insert(name);
  }
  for (const auto& [name, value] : given) {
    if (!used.count(name))
      throw InputError(fmt::format("{}: unexpected tensor '{}' (not part of {})", check.source, name, check.network));
  }
}

}  // namespace cmbench
