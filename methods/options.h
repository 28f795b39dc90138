// Reads a method's option table: every key has a default (the paper value of the chosen dataset
// preset), unknown keys are an error, and the resolved values are recorded for checkpoints.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/config.h"
#include "core/config_reader.h"

namespace cmbench {

class OptionReader {
 public:
  // `table` is the `method` table; `name` and `preset` are always known keys.
  explicit OptionReader(const Config& table);

  const std::string& preset() const { return preset_; }
  // Picks the default of the current preset: `cifar10` unless the preset is `imagenet64`.
  template <class T>
  T by_preset(const T& cifar10, const T& imagenet64) const { return preset_ == "imagenet64" ? imagenet64 : cifar10; }

  double number(const std::string& key, double fallback) { return reader_.get<double>(key, fallback); }
  int64_t integer(const std::string& key, int64_t fallback) { return reader_.get<int64_t>(key, fallback); }
  bool flag(const std::string& key, bool fallback) { return reader_.get<bool>(key, fallback); }
  std::string text(const std::string& key, const std::string& fallback) { return reader_.get<std::string>(key, fallback); }
  std::string choice(const std::string& key, const std::string& fallback, std::initializer_list<const char*> allowed) {
    return reader_.choice(key, fallback, allowed);
  }

  // Throws InputError for keys nobody asked for; returns the resolved options.
  nlohmann::json finish() const;

 private:
  ConfigReader reader_;
  std::string preset_;
};

}  // namespace cmbench
