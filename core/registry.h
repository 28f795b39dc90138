// A registry of named factories for pluggable components (methods, networks, datasets, metrics).
// Each module fills its registry in one function with one line per component, so that nothing
// depends on static-initialization order or on the linker keeping unused objects.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace cmbench {

template <class Base, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(Args...)>;

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Registers `name`; registering a name twice is a programming error.
  Registry& add(const std::string& name, Factory factory, std::string description = {}) {
    if (entries_.count(name)) throw std::logic_error(kind_ + " '" + name + "' registered twice");
    entries_.emplace(name, Entry{std::move(factory), std::move(description)});
    return *this;
  }

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }

  std::unique_ptr<Base> create(const std::string& name, Args... args) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw InputError(unknown_message(name));
    return it->second.factory(std::forward<Args>(args)...);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

  const std::string& description(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw InputError(unknown_message(name));
    return it->second.description;
  }

  // "a, b, c": the names in order, for messages and help texts.
  std::string joined_names() const {
    std::string joined;
    for (const auto& [name, entry] : entries_) joined += (joined.empty() ? "" : ", ") + name;
    return joined;
  }

  const std::string& kind() const { return kind_; }

 private:
  struct Entry {
    Factory factory;
    std::string description;
  };

  std::string unknown_message(const std::string& name) const {
    return "unknown " + kind_ + " '" + name + "' (known: " + joined_names() + ")";
  }

  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace cmbench
