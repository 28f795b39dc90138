#include "core/config_reader.h"

#include "core/error.h"

namespace cmbench {

ConfigReader::ConfigReader(Config table, std::string name) : table_(std::move(table)), name_(std::move(name)) {}

void ConfigReader::declare(const std::string& key) { known_.push_back(key); }

std::string ConfigReader::choice(const std::string& key, const std::string& fallback,
                                 std::initializer_list<const char*> allowed) {
  declare(key);
  const auto value = table_.get_or<std::string>(key, fallback);
  std::string list;
  size_t i = 0;
  for (const char* a : allowed) {
    if (value == a) {
      resolved_[key] = value;
      return value;
    }
    list += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + std::string(a);
    ++i;
  }
  throw InputError(table_.where(key) + ": " + dotted(key) + " '" + value + "': expected " + list);
}

const nlohmann::json& ConfigReader::finish(const std::string& context) const {
  const auto unknown = table_.unknown_keys(known_);
  if (!unknown.empty()) throw InputError(table_.where() + ": unknown key '" + dotted(unknown.front()) + "'" + context);
  return resolved_;
}

}  // namespace cmbench
