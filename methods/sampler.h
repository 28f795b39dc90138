// Sampling rules by name (METHODS.md §3, §4, §6): each registry entry owns how `--steps` and
// `--sigmas` resolve against the training method's defaults, which settings evaluate the network
// a given number of times (a suite's NFE), and the run itself.
//
//   auto sampler = make_sampler(method->default_sampler());
//   auto plan = sampler->plan({steps, sigmas}, *method);             // InputError on what it cannot take
//   auto result = sampler->run(plan, denoise, latents, generators, net);
//
// A new sampler is one Sampler subclass plus one line in sampler_registry().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "methods/method.h"
#include "methods/samplers.h"

namespace cmbench {

// What a user asks for (`cmbench sample --steps/--sigmas`, a suite's NFE).
struct SamplerSettings {
  int64_t steps = 0;           // 0: the sampler's default
  std::vector<double> sigmas;  // intermediate noise levels, descending (cm, ect)
};

// What a sampler will do: the resolved steps and, for the consistency samplers, every level visited.
struct SamplingPlan {
  int64_t steps = 0;
  std::vector<double> levels;  // cm, ect: [sigma_max, intermediates...]; heun: empty
};

// A suite's [evaluation.sigmas]: NFE -> the intermediate levels of a multistep sampler.
using NfeLevels = std::map<int64_t, std::vector<double>>;

class Sampler {
 public:
  virtual ~Sampler() = default;

  virtual std::string name() const = 0;
  // The plan for `settings` with `method`'s defaults; InputError naming the option it cannot take.
  virtual SamplingPlan plan(const SamplerSettings& settings, const Method& method) const = 0;
  // The settings that evaluate the network `nfe` times per image, intermediate levels from `levels`;
  // InputError (saying why, without a location) when this sampler cannot.
  virtual SamplerSettings settings_for_nfe(int64_t nfe, const NfeLevels& levels) const = 0;
  virtual SampleResult run(const SamplingPlan& plan, const DenoiseFn& denoise, const torch::Tensor& latents,
                           std::vector<torch::Generator>& generators, const Denoiser& net) const = 0;
};

using SamplerRegistry = Registry<Sampler>;

const SamplerRegistry& sampler_registry();
std::unique_ptr<Sampler> make_sampler(const std::string& name);

}  // namespace cmbench
