#include "core/config.h"

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/error.h"
#include "core/utf8.h"

namespace cmbench {

struct Location {
  std::string where;  // "file:line" or "--set"
  uint32_t line = 0;  // in the file; 0 for --set values
};

// toml++ drops source positions when a node is copied, so "file:line" of every key is recorded
// once, when it is parsed, by dotted key (array-of-table elements by index: "reference.0.method");
// copies of the document (copy-on-write, put) keep it.
struct Config::Table {
  toml::table root;
  std::map<std::string, Location> locations;
};

namespace {

const char* const kSetSource = "--set";
const std::string kSetLabel = kSetSource;

std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A dotted key; a component that is a number indexes an array ("reference.0").
const toml::node* find_node(const toml::table& root, std::string_view key) {
  const toml::node* node = &root;
  for (const auto& part : split_key(key)) {
    if (const auto* array = node->as_array()) {
      if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return nullptr;
      node = array->get(std::stoul(part));
    } else if (const auto* table = node->as_table()) {
      node = table->get(part);
    } else {
      return nullptr;
    }
    if (!node) return nullptr;
  }
  return node;
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

nlohmann::json node_to_json(const toml::node& node) {
  if (auto* t = node.as_table()) {
    auto out = nlohmann::json::object();
    for (auto&& [k, v] : *t) out[std::string(k.str())] = node_to_json(v);
    return out;
  }
  if (auto* a = node.as_array()) {
    auto out = nlohmann::json::array();
    for (auto&& v : *a) out.push_back(node_to_json(v));
    return out;
  }
  if (auto* v = node.as_string()) return v->get();
  if (auto* v = node.as_integer()) return v->get();
  if (auto* v = node.as_floating_point()) return v->get();
  if (auto* v = node.as_boolean()) return v->get();
  std::ostringstream text;
  node.visit([&](auto&& value) { text << value; });
  return text.str();
}

// Checks that `node` holds the requested type and converts it; returns false on a type mismatch.
template <class T>
bool convert(const toml::node& node, T& out);

template <>
bool convert(const toml::node& node, bool& out) {
  if (auto* v = node.as_boolean()) return out = v->get(), true;
  return false;
}
template <>
bool convert(const toml::node& node, int64_t& out) {
  if (auto* v = node.as_integer()) return out = v->get(), true;
  return false;
}
template <>
bool convert(const toml::node& node, double& out) {
  if (auto* v = node.as_floating_point()) return out = v->get(), true;
  if (auto* v = node.as_integer()) return out = static_cast<double>(v->get()), true;
  return false;
}
template <>
bool convert(const toml::node& node, std::string& out) {
  if (auto* v = node.as_string()) return out = v->get(), true;
  return false;
}
template <class T>
bool convert_array(const toml::node& node, std::vector<T>& out) {
  auto* a = node.as_array();
  if (!a) return false;
  out.clear();
  for (auto&& element : *a) {
    T value{};
    if (!convert(element, value)) return false;
    out.push_back(value);
  }
  return true;
}
template <>
bool convert(const toml::node& node, std::vector<int64_t>& out) { return convert_array(node, out); }
template <>
bool convert(const toml::node& node, std::vector<double>& out) { return convert_array(node, out); }
template <>
bool convert(const toml::node& node, std::vector<std::string>& out) { return convert_array(node, out); }

std::string joined(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

void record_locations(const toml::node& node, const std::string& key, const std::string& label,
                      std::map<std::string, Location>& out) {
  if (!key.empty()) {
    const auto line = node.source().begin.line;
    if (label == kSetLabel) {
      out[key] = {label, 0};
    } else if (line != 0) {
      out[key] = {fmt::format("{}:{}", label, line), line};
    }
  }
  if (const auto* table = node.as_table()) {
    for (auto&& [k, v] : *table) record_locations(v, joined(key, k.str()), label, out);
  } else if (const auto* array = node.as_array(); array && array->is_array_of_tables()) {
    for (size_t i = 0; i < array->size(); ++i) record_locations(*array->get(i), joined(key, std::to_string(i)), label, out);
  }
}

bool is_within(const std::string& key, const std::string& root) {
  return key == root || (key.size() > root.size() && key.compare(0, root.size(), root) == 0 && key[root.size()] == '.');
}

void erase_within(std::map<std::string, Location>& locations, const std::string& root) {
  for (auto it = locations.lower_bound(root); it != locations.end() && it->first.compare(0, root.size(), root) == 0;) {
    it = is_within(it->first, root) ? locations.erase(it) : std::next(it);
  }
}

// Locations of `from` (keys under `from_root`) re-rooted at `to_root`.
void copy_within(const std::map<std::string, Location>& from, const std::string& from_root,
                 std::map<std::string, Location>& to, const std::string& to_root) {
  for (const auto& [k, where] : from) {
    if (from_root.empty()) {
      to[joined(to_root, k)] = where;
    } else if (is_within(k, from_root)) {
      to[to_root + k.substr(from_root.size())] = where;
    }
  }
}

template <class T> constexpr const char* expected_name();
template <> constexpr const char* expected_name<bool>() { return "a boolean"; }
template <> constexpr const char* expected_name<int64_t>() { return "an integer"; }
template <> constexpr const char* expected_name<double>() { return "a number"; }
template <> constexpr const char* expected_name<std::string>() { return "a string"; }
template <> constexpr const char* expected_name<std::vector<int64_t>>() { return "an array of integers"; }
template <> constexpr const char* expected_name<std::vector<double>>() { return "an array of numbers"; }
template <> constexpr const char* expected_name<std::vector<std::string>>() { return "an array of strings"; }


}  // namespace

Config::Config() : Config(std::make_shared<Table>(), "<empty>", "") {}

Config::Config(std::shared_ptr<Table> table, std::string source, std::string prefix)
    : table_(std::move(table)), source_(std::move(source)), prefix_(std::move(prefix)) {}

Config Config::from_string(std::string_view text, std::string source) {
  auto table = std::make_shared<Table>();
  try {
    table->root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: invalid TOML: {}", source, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  record_locations(table->root, "", source, table->locations);
  return Config(std::move(table), std::move(source), "");
}

Config Config::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open config file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return from_string(text.str(), path);
}

std::string Config::full_key(std::string_view key) const {
  if (prefix_.empty()) return std::string(key);
  if (key.empty()) return prefix_;
  return prefix_ + "." + std::string(key);
}

void Config::set(std::string_view assignment) {
  if (!is_utf8(assignment)) throw InputError("--set: an assignment is not valid UTF-8 text");
  const size_t eq = assignment.find('=');
  const std::string_view key = trim(assignment.substr(0, eq));
  if (eq == std::string_view::npos || key.empty()) {
    throw InputError(fmt::format("--set '{}': expected key=value", assignment));
  }
  const std::string_view value_text = trim(assignment.substr(eq + 1));
  toml::table parsed;
  try {
    parsed = toml::parse("value = " + std::string(value_text), std::string(kSetSource));
  } catch (const toml::parse_error&) {
    parsed = toml::table{};
    parsed.insert("value", std::string(value_text));
  }
  auto [parent, last] = parent_of(key, assignment);
  const std::string full = full_key(key);
  erase_within(table_->locations, full);
  record_locations(*parsed.get("value"), full, kSetLabel, table_->locations);
  static_cast<toml::table*>(parent)->insert_or_assign(last, std::move(*parsed.get("value")));
}

void Config::make_unique() {
  if (table_.use_count() > 1) table_ = std::make_shared<Table>(*table_);
}

std::pair<void*, std::string> Config::parent_of(std::string_view key, std::string_view context) {
  make_unique();
  const auto parts = split_key(full_key(key));
  toml::table* table = &table_->root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) throw InputError(fmt::format("--set '{}': empty key component", context));
    toml::node* next = table->get(parts[i]);
    if (!next) next = &table->insert(parts[i], toml::table{}).first->second;
    table = next->as_table();
    if (!table) throw InputError(fmt::format("--set '{}': '{}' is not a table", context, parts[i]));
  }
  if (parts.back().empty()) throw InputError(fmt::format("--set '{}': empty key component", context));
  return {table, parts.back()};
}

void Config::put_copy(std::string_view key, const Config& value, const std::string& from_key) {
  const auto from = value.table_;  // `value` may share this document: keep its nodes alive
  const toml::node* node = from_key.empty() ? &from->root : find_node(from->root, from_key);
  auto [parent, last] = parent_of(key, key);
  const std::string full = full_key(key);
  erase_within(table_->locations, full);
  copy_within(from->locations, from_key, table_->locations, full);
  node->visit([p = static_cast<toml::table*>(parent), &last](auto&& v) { p->insert_or_assign(last, v); });
}

void Config::put(std::string_view key, const Config& value) { put_copy(key, value, value.prefix_); }

void Config::merge(std::string_view key, const Config& value) {
  for (const auto& k : value.keys()) put_copy(joined(std::string(key), k), value, joined(value.prefix_, k));
}

void Config::put(std::string_view key, int64_t value) {
  auto [parent, last] = parent_of(key, key);
  erase_within(table_->locations, full_key(key));
  static_cast<toml::table*>(parent)->insert_or_assign(last, value);
}

void Config::put(std::string_view key, const std::string& value) {
  auto [parent, last] = parent_of(key, key);
  erase_within(table_->locations, full_key(key));
  static_cast<toml::table*>(parent)->insert_or_assign(last, value);
}

void Config::set_all(const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) set(a);
}

bool Config::has(std::string_view key) const { return find_node(table_->root, full_key(key)) != nullptr; }

std::string Config::where(std::string_view key) const {
  const auto it = table_->locations.find(full_key(key));
  return it == table_->locations.end() ? source_ : it->second.where;
}

uint32_t Config::line(std::string_view key) const {
  const auto it = table_->locations.find(full_key(key));
  return it == table_->locations.end() ? 0 : it->second.line;
}

size_t Config::count(std::string_view key) const {
  const std::string name = full_key(key);
  const toml::node* node = find_node(table_->root, name);
  if (!node) throw InputError(fmt::format("{}: missing key '{}'", source_, name));
  const auto* array = node->as_array();
  if (!array || !array->is_array_of_tables()) {
    throw InputError(fmt::format("{}: key '{}' must be an array of tables ([[{}]]), found {}", where(key), name, name,
                                 type_name(*node)));
  }
  return array->size();
}

template <class T>
T Config::get(std::string_view key) const {
  const std::string name = full_key(key);
  const toml::node* node = find_node(table_->root, name);
  if (!node) throw InputError(fmt::format("{}: missing key '{}'", source_, name));
  T value{};
  if (!convert(*node, value)) {
    throw InputError(fmt::format("{}: key '{}' must be {}, found {}", where(key), name,
                                 expected_name<T>(), type_name(*node)));
  }
  return value;
}

template <>
int Config::get<int>(std::string_view key) const {
  const int64_t value = get<int64_t>(key);
  if (value < INT32_MIN || value > INT32_MAX) {
    throw InputError(fmt::format("{}: key '{}' = {} is out of range", where(key), full_key(key), value));
  }
  return static_cast<int>(value);
}

template bool Config::get<bool>(std::string_view) const;
template int64_t Config::get<int64_t>(std::string_view) const;
template double Config::get<double>(std::string_view) const;
template std::string Config::get<std::string>(std::string_view) const;
template std::vector<int64_t> Config::get<std::vector<int64_t>>(std::string_view) const;
template std::vector<double> Config::get<std::vector<double>>(std::string_view) const;
template std::vector<std::string> Config::get<std::vector<std::string>>(std::string_view) const;

Config Config::sub(std::string_view key) const {
  const std::string name = full_key(key);
  const toml::node* node = find_node(table_->root, name);
  if (!node) throw InputError(fmt::format("{}: missing table '{}'", source_, name));
  if (!node->is_table()) {
    throw InputError(fmt::format("{}: key '{}' must be a table, found {}", where(key), name, type_name(*node)));
  }
  return Config(table_, source_, name);
}

std::vector<std::string> Config::keys() const {
  std::vector<std::string> out;
  const toml::node* node = find_node(table_->root, prefix_);
  if (prefix_.empty()) node = &table_->root;
  if (auto* t = node ? node->as_table() : nullptr) {
    for (auto&& [k, v] : *t) out.emplace_back(k.str());
  }
  return out;
}

std::vector<std::string> Config::unknown_keys(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& k : keys()) {
    bool found = false;
    for (const auto& n : known) found = found || n == k;
    if (!found) out.push_back(k);
  }
  return out;
}

nlohmann::json Config::to_json() const {
  if (prefix_.empty()) return node_to_json(table_->root);
  return node_to_json(*find_node(table_->root, prefix_));
}

std::string Config::to_toml() const {
  std::ostringstream out;
  if (prefix_.empty()) {
    out << table_->root;
  } else {
    out << *find_node(table_->root, prefix_)->as_table();
  }
  return out.str();
}

}  // namespace cmbench
