// TOML configuration with dotted `--set key=value` overrides and type-checked access.
// Every error names the source file (or "--set") and the key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cmbench {

// Value semantics: copies are independent (copy-on-write); sub() views share the document read-only.
class Config {
 public:
  Config();  // empty table, source "<empty>"
  static Config from_file(const std::string& path);
  static Config from_string(std::string_view text, std::string source = "<string>");

  // Applies "a.b.c=value". The value is read as a TOML value (number, bool, string in quotes,
  // array, inline table); anything that does not parse as one is taken as a bare string.
  // Intermediate tables are created; a non-table in the way is an error.
  void set(std::string_view assignment);
  void set_all(const std::vector<std::string>& assignments);

  // Puts a value at dotted `key` (intermediate tables are created, a non-table in the way is an
  // error), replacing what was there. A Config value is copied as the table it views, and where()
  // still names the file and line of each of its keys; merge() overlays its keys instead.
  void put(std::string_view key, const Config& table);
  void put(std::string_view key, int64_t value);
  void put(std::string_view key, const std::string& value);
  void merge(std::string_view key, const Config& table);

  bool has(std::string_view key) const;

  // Type-checked access: integers convert to double, nothing else converts.
  template <class T>
  T get(std::string_view key) const;
  template <class T>
  T get_or(std::string_view key, const T& fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }

  // A sub-table as its own Config (errors then name "file: key 'outer.inner'").
  Config sub(std::string_view key) const;
  std::vector<std::string> keys() const;  // direct children, sorted

  // Keys present in the file but absent from `known` (relative, direct children only).
  std::vector<std::string> unknown_keys(const std::vector<std::string>& known) const;

  // "file:line" of a key (or of this table when key is empty), for messages about its value.
  std::string where(std::string_view key = {}) const;

  // The line of a key in its file (0 when not read from one), e.g. to keep a file's order.
  uint32_t line(std::string_view key) const;
  // The number of tables of the array of tables at `key` ([[key]]); each is sub("key.I").
  size_t count(std::string_view key) const;

  nlohmann::json to_json() const;
  std::string to_toml() const;
  const std::string& source() const { return source_; }

  struct Table;  // the parsed TOML document (config.cpp)

 private:
  Config(std::shared_ptr<Table> table, std::string source, std::string prefix);
  std::string full_key(std::string_view key) const;
  void make_unique();
  // The table that will hold dotted `key` (created as needed) and the key's last component.
  std::pair<void*, std::string> parent_of(std::string_view key, std::string_view context);
  // Copies the node at `from_key` of `value`'s document to `key`, with the locations of its keys.
  void put_copy(std::string_view key, const Config& value, const std::string& from_key);

  std::shared_ptr<Table> table_;
  std::string source_;
  std::string prefix_;  // dotted path of this sub-table inside the file, for messages
};

extern template bool Config::get<bool>(std::string_view) const;
extern template int64_t Config::get<int64_t>(std::string_view) const;
template <>
int Config::get<int>(std::string_view) const;
extern template double Config::get<double>(std::string_view) const;
extern template std::string Config::get<std::string>(std::string_view) const;
extern template std::vector<int64_t> Config::get<std::vector<int64_t>>(std::string_view) const;
extern template std::vector<double> Config::get<std::vector<double>>(std::string_view) const;
extern template std::vector<std::string> Config::get<std::vector<std::string>>(std::string_view) const;

}  // namespace cmbench
