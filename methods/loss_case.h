// One case of the loss reference vectors (vectors/losses.npz and its manifest losses.json,
// VECTORS.md) and the inputs it becomes. `cmbench selftest losses` builds the generic part (x0, eps,
// the toy student, labels, stage); each method's registry entry owns a LossCaseTranslation that
// turns the case's method-specific keys into its options, draws and networks.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/npy.h"
#include "methods/method.h"
#include "methods/toy_networks.h"

namespace cmbench {

class LossCase {
 public:
  LossCase(const nlohmann::json& spec, const NpzMap& arrays, std::string source);

  std::string text(const std::string& key) const;
  bool has(const std::string& key) const { return spec_.contains(key) && !spec_.at(key).is_null(); }
  // A parameter given inline (number) or by npz key (string).
  torch::Tensor tensor(const std::string& key) const { return lookup(spec_.at(key), key); }
  torch::Tensor lookup(const nlohmann::json& value, const std::string& what) const;
  double number(const std::string& key) const;
  torch::Tensor array(const std::string& name) const;
  // The toy network F(u, c) = tanh(a u + b c) with the preconditioning `spec` names (`precond`, `eps_b`).
  std::shared_ptr<ToyDenoiser> toy_network(const nlohmann::json& spec, double a, double b) const;

  [[noreturn]] void fail(const std::string& problem) const;
  const std::string& prefix() const { return prefix_; }
  const nlohmann::json& spec() const { return spec_; }

 private:
  const nlohmann::json& spec_;
  const NpzMap& arrays_;
  std::string source_, prefix_;
};

struct LossCaseInputs {
  Config options;       // the method table; `name` is set, translations add the case's options
  TrainingBatch batch;  // x0, and one-hot labels when the case has `labels`
  TensorMap draws;      // `eps`; translations add the method's own draws
  Networks nets;        // the toy student; translations add what else the method needs
  StepContext context;

  void set_number(const std::string& key, double value);
  void set_integer(const std::string& key, int64_t value);
  void set_text(const std::string& key, const std::string& value);
};

// How a method reads its keys of a case; InputError (LossCase::fail) on keys it cannot take.
using LossCaseTranslation = std::function<void(const LossCase&, LossCaseInputs&)>;

}  // namespace cmbench
