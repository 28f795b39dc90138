// The methods by name: make_method(config.sub("method")) reads `method.name` (see
// method_registry().names()) and the method's options, defaulting to the paper values of
// `method.preset`. Each entry also owns its selftest translation (methods/loss_case.h).
//
// A new method is a Method subclass and one line in method_registry() (methods/registry.cpp), or,
// outside this library (plugins, tests), one register_method() call before the method is used.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/registry.h"
#include "methods/loss_case.h"
#include "methods/method.h"

namespace cmbench {

class MethodRegistry : public Registry<Method, const Config&> {
 public:
  using Registry::Registry;
  using Registry::add;
  // A method with reference cases in vectors/losses.npz and the translation of its keys.
  MethodRegistry& add(const std::string& name, Factory factory, std::string description,
                      LossCaseTranslation translation);
  // Null for methods without reference cases.
  const LossCaseTranslation* loss_case_translation(const std::string& name) const;

 private:
  std::map<std::string, LossCaseTranslation> translations_;
};

const MethodRegistry& method_registry();
// Adds a method at run time; registering a name twice is an error (std::logic_error).
void register_method(const std::string& name, MethodRegistry::Factory factory, std::string description,
                     LossCaseTranslation translation = {});

std::unique_ptr<Method> make_method(const Config& table);
// The method `name` with its default options for `preset` (empty: the method's default preset).
std::unique_ptr<Method> make_method(const std::string& name, const std::string& preset = {});

}  // namespace cmbench
