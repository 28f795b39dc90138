// Reads one table of a Config as typed values: each read declares its key and its default and
// records the value it resolved to; finish() rejects every key nobody read. Checking a config and
// reading it are then the same call, so no key list or default exists twice.
//
//   ConfigReader train(config.sub("train"), "train");
//   const auto steps = train.required<int64_t>("steps");
//   const auto lr = train.get<double>("lr", 1e-4);
//   train.finish();   // InputError "FILE:LINE: unknown key 'train.bogus'" for a key not read
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"

namespace cmbench {

class ConfigReader {
 public:
  // `name` is the table's dotted name in messages ("train", "method"; "" for the root).
  ConfigReader(Config table, std::string name);

  template <class T>
  T get(const std::string& key, const T& fallback) {
    declare(key);
    const T value = table_.get_or<T>(key, fallback);
    resolved_[key] = value;
    return value;
  }
  template <class T>
  T required(const std::string& key) {
    declare(key);
    const T value = table_.get<T>(key);
    resolved_[key] = value;
    return value;
  }
  // A string among `allowed`; InputError "FILE:LINE: NAME.KEY 'v': expected a, b or c".
  std::string choice(const std::string& key, const std::string& fallback, std::initializer_list<const char*> allowed);
  // Keys read elsewhere (sub-tables given to their own readers), known but not recorded here.
  void declare(const std::string& key);

  bool has(const std::string& key) const { return table_.has(key); }
  std::string where(const std::string& key = {}) const { return table_.where(key); }
  std::string dotted(const std::string& key) const { return name_.empty() ? key : name_ + "." + key; }
  const Config& table() const { return table_; }
  // Every value read, as resolved (defaults included).
  const nlohmann::json& resolved() const { return resolved_; }

  // InputError naming the first key that was never read (`context` is appended, e.g. " for method 'ect'").
  const nlohmann::json& finish(const std::string& context = {}) const;

 private:
  Config table_;
  std::string name_;
  std::vector<std::string> known_;
  nlohmann::json resolved_ = nlohmann::json::object();
};

}  // namespace cmbench
