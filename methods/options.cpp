#include "methods/options.h"

#include "core/error.h"

namespace cmbench {

OptionReader::OptionReader(const Config& table) : table_(table) {
  resolved_["name"] = table.get<std::string>("name");
  preset_ = table.get_or<std::string>("preset", "cifar10");
  if (preset_ != "cifar10" && preset_ != "imagenet64")
    throw InputError(table.where("preset") + ": method.preset '" + preset_ + "': expected cifar10 or imagenet64");
  resolved_["preset"] = preset_;
}

double OptionReader::number(const std::string& key, double fallback) {
  known_.push_back(key);
  const double value = table_.get_or<double>(key, fallback);
  resolved_[key] = value;
  return value;
}

int64_t OptionReader::integer(const std::string& key, int64_t fallback) {
  known_.push_back(key);
  const int64_t value = table_.get_or<int64_t>(key, fallback);
  resolved_[key] = value;
  return value;
}

bool OptionReader::flag(const std::string& key, bool fallback) {
  known_.push_back(key);
  const bool value = table_.get_or<bool>(key, fallback);
  resolved_[key] = value;
  return value;
}

std::string OptionReader::choice(const std::string& key, const std::string& fallback,
                                 std::initializer_list<const char*> allowed) {
  known_.push_back(key);
  const auto value = table_.get_or<std::string>(key, fallback);
  std::string list;
  for (const char* a : allowed) {
    if (value == a) {
      resolved_[key] = value;
      return value;
    }
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw InputError(table_.where(key) + ": method." + key + " '" + value + "': expected one of " + list);
}

nlohmann::json OptionReader::finish() const {
  const auto unknown = table_.unknown_keys(known_);
  if (!unknown.empty())
    throw InputError(table_.where() + ": unknown key 'method." + unknown.front() + "' for method '" +
                     resolved_["name"].get<std::string>() + "'");
  return resolved_;
}

}  // namespace cmbench
