#include "core/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/hdf5.h"

namespace cmbench {

namespace {

void write_attribute(H5::H5File& file, const std::string& name, const nlohmann::json& value) {
  if (value.is_number_integer()) {
    h5::set_attribute(file, name, value.get<int64_t>());
  } else if (value.is_number()) {
    h5::set_attribute(file, name, value.get<double>());
  } else if (value.is_string()) {
    h5::set_attribute(file, name, value.get<std::string>());
  } else {
    h5::set_attribute(file, name, value.dump());
  }
}

nlohmann::json read_attribute(const H5::H5File& file, const std::string& name) {
  const auto attribute = file.openAttribute(name);
  if (attribute.getSpace().getSimpleExtentNpoints() != 1) return nullptr;  // arrays are not part of the format
  const auto type = attribute.getTypeClass();
  if (type == H5T_INTEGER) return h5::get_int_attribute(file, name);
  if (type == H5T_FLOAT) return h5::get_double_attribute(file, name);
  if (type == H5T_STRING) return h5::get_string_attribute(file, name);
  return nullptr;  // other attribute types are not part of the format; ignored
}

std::vector<std::string> root_attribute_names(const H5::H5File& file) {
  std::vector<std::string> names;
  const int count = file.getNumAttrs();
  for (int i = 0; i < count; ++i) names.push_back(file.openAttribute(static_cast<unsigned>(i)).getName());
  return names;
}

std::string join(const std::vector<std::string>& names, size_t limit = 20) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += fmt::format(", ... ({} in all)", names.size());
  return out;
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::string out = "(";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + ")";
}

}  // namespace

const NamedTensors& Checkpoint::group(const std::string& name) const {
  auto it = groups.find(name);
  if (it == groups.end()) throw InputError("checkpoint has no group '/" + name + "'");
  return it->second;
}

bool is_weights_group(const std::string& group) {
  return group == "model" || group == "ema" || group == "target" || group.rfind("ema.", 0) == 0;
}

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  for (const auto& [group, tensors] : checkpoint.groups) {
    if (group.empty() || group.find('/') != std::string::npos)
      throw InputError(fmt::format("{}: bad checkpoint group name '{}'", path, group));
    std::set<std::string> seen;
    for (const auto& [name, tensor] : tensors) {
      if (name.empty() || name.find('/') != std::string::npos || !seen.insert(name).second)
        throw InputError(fmt::format("{}: bad or repeated tensor name '{}' in group '/{}'", path, name, group));
      if (!tensor.defined()) throw InputError(fmt::format("{}: tensor '/{}/{}' is undefined", path, group, name));
    }
  }
  h5::write_atomic(path, [&](H5::H5File& file) {
    h5::set_attribute(file, "format", std::string(kCheckpointFormat));
    if (!checkpoint.config.is_null()) h5::set_attribute(file, "config", checkpoint.config.dump());
    for (const auto& [name, value] : checkpoint.attributes.items()) {
      if (name == "format" || name == "config") continue;
      write_attribute(file, name, value);
    }
    for (const auto& [group_name, tensors] : checkpoint.groups) {
      auto group = h5::require_group(file, group_name);
      const bool weights = is_weights_group(group_name);
      for (const auto& [name, tensor] : tensors) {
        auto t = tensor.detach().to(torch::kCPU);
        if (weights) t = t.to(torch::kFloat32);
        h5::write_tensor(group, name, t.contiguous());
      }
    }
  });
}

std::vector<std::string> checkpoint_groups(const std::string& path) {
  const h5::ReadDeadline deadline(path);
  auto file = h5::open_read(path);
  try {
    return h5::child_names(file);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: unreadable checkpoint: {}", path, e.getDetailMsg()));
  }
}

std::string default_weights_group(const std::vector<std::string>& groups, const std::string& path) {
  for (const char* name : {"ema", "model"})
    if (std::find(groups.begin(), groups.end(), name) != groups.end()) return name;
  throw InputError(fmt::format("{}: checkpoint has neither /ema nor /model", path));
}

Checkpoint read_checkpoint(const std::string& path, const std::vector<std::string>& groups) {
  const h5::ReadDeadline deadline(path);
  auto file = h5::open_read(path);
  Checkpoint out;
  try {
    for (const auto& name : root_attribute_names(file)) {
      if (name == "format") {
        const auto format = h5::get_string_attribute(file, name);
        if (format != kCheckpointFormat)
          throw InputError(fmt::format("{}: checkpoint format '{}' is not {}", path, format, kCheckpointFormat));
      } else if (name == "config") {
        try {
          out.config = nlohmann::json::parse(h5::get_string_attribute(file, name));
        } catch (const nlohmann::json::exception& e) {
          throw InputError(fmt::format("{}: attribute 'config' is not valid JSON: {}", path, e.what()));
        }
      } else {
        auto value = read_attribute(file, name);
        if (!value.is_null()) out.attributes[name] = value;
      }
    }
    const auto present = h5::child_names(file);
    std::vector<std::string> wanted = groups.empty() ? present : groups;
    for (const auto& group_name : wanted) {
      if (std::find(present.begin(), present.end(), group_name) == present.end())
        throw InputError(fmt::format("{}: checkpoint has no group '/{}' (groups: {})", path, group_name, join(present)));
      if (file.childObjType(group_name) != H5O_TYPE_GROUP) continue;
      const auto group = file.openGroup(group_name);
      NamedTensors tensors;
      for (const auto& name : h5::child_names(group)) tensors.emplace_back(name, h5::read_tensor(group, name));
      out.groups.emplace(group_name, std::move(tensors));
    }
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: unreadable checkpoint: {}", path, e.getDetailMsg()));
  }
  return out;
}

LoadReport check_named_tensors(const NamedTensors& source, const NamedTensors& destination, bool strict,
                               const std::string& context) {
  std::unordered_map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : source) by_name.emplace(name, &tensor);
  LoadReport report;
  std::vector<std::string> problems;
  std::set<std::string> used;
  for (const auto& [name, target] : destination) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      report.missing.push_back(name);
      continue;
    }
    used.insert(name);
    if (!it->second->sizes().equals(target.sizes()))
      problems.push_back(fmt::format("'{}' has shape {} in the file, {} in the network", name,
                                     shape_string(it->second->sizes()), shape_string(target.sizes())));
  }
  for (const auto& [name, tensor] : source)
    if (!used.count(name)) report.unexpected.push_back(name);
  if (strict) {
    if (!report.missing.empty()) problems.push_back("missing: " + join(report.missing));
    if (!report.unexpected.empty()) problems.push_back("unexpected: " + join(report.unexpected));
  }
  if (!problems.empty()) {
    std::string message = context + ": " + std::to_string(problems.size()) + " mismatch(es): ";
    for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
    throw InputError(message);
  }
  return report;
}

LoadReport load_named_tensors(const NamedTensors& source, const NamedTensors& destination, bool strict,
                              const std::string& context) {
  const auto report = check_named_tensors(source, destination, strict, context);
  std::unordered_map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : source) by_name.emplace(name, &tensor);
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : destination) {
    auto it = by_name.find(name);
    if (it != by_name.end()) target.copy_(*it->second);
  }
  return report;
}

}  // namespace cmbench
