#include "metrics/named_weights.h"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace cmbench {

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
