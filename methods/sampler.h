// Sampling rules by name (METHODS.md §3, §4, §6): each registry entry owns how `--steps` and
// `--sigmas` resolve against the training method's defaults, which settings evaluate the network
// a given number of times (a suite's NFE), and the run itself.
//
//   auto sampler = make_sampler(method->default_sampler());
//   auto plan = sampler->plan({steps, sigmas, knobs}, *method);      // InputError on what it cannot take
//   auto result = sampler->run(plan, denoise, latents, generators, net);
//
// A new sampler is one Sampler subclass plus one line in sampler_registry().
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "methods/method.h"
#include "methods/samplers.h"

namespace cmbench {

// Sampler knobs beyond steps and levels: a suite's [evaluation.sampler] / [stages.NAME.evaluation.sampler]
// table and `cmbench sample`'s flags.
struct SamplerKnobs {
  // EDM's stochastic Heun (Karras et al. 2022, Algorithm 2; NVlabs/edm generate.py edm_sampler).
  double s_churn = 0.0, s_min = 0.0, s_max = std::numeric_limits<double>::infinity(), s_noise = 1.0;
  // Consistency samplers: clamp the x0 estimate to [-1, 1] between steps; unset: the method's clamps_denoised().
  std::optional<bool> clamp;
  double guidance = 1.0;   // classifier-free guidance weight
  bool edge_skip = false;  // SCT's edge-skipping multistep sampling: not implemented, every sampler refuses it
};

// Keys s_churn, s_min, s_max, s_noise, clamp, guidance, edge_skip of `table`; InputError "file:line: ..."
// (Config::where) for unknown keys, wrong types or bad values.
SamplerKnobs read_sampler_knobs(const Config& table);
// One line for plans and logs, e.g. "S_churn 40, S_min 0.05, S_max 50, S_noise 1.003" or "clamp x0 to [-1, 1]";
// "" for defaults.
std::string describe_knobs(const SamplerKnobs& knobs, const Method& method);

// What a user asks for (`cmbench sample --steps/--sigmas` and knobs, a suite's NFE).
struct SamplerSettings {
  int64_t steps = 0;           // 0: the sampler's default
  std::vector<double> sigmas;  // intermediate noise levels, descending (cm, ect)
  SamplerKnobs knobs;
};

// What a sampler will do: the resolved steps and, for the consistency samplers, every level visited.
struct SamplingPlan {
  int64_t steps = 0;
  std::vector<double> levels;  // cm, ect: [sigma_max, intermediates...]; heun: empty
  SamplerKnobs knobs;          // as checked by check_knobs
  bool clamp = false;          // knobs.clamp resolved against the method's clamps_denoised()
};

// A suite's [evaluation.sigmas]: NFE -> the intermediate levels of a multistep sampler.
using NfeLevels = std::map<int64_t, std::vector<double>>;

class Sampler {
 public:
  virtual ~Sampler() = default;

  virtual std::string name() const = 0;
  // The plan for `settings` with `method`'s defaults; InputError naming the option it cannot take.
  virtual SamplingPlan plan(const SamplerSettings& settings, const Method& method) const = 0;
  // InputError (no location, says why) for knobs this sampler cannot take (e.g. churn on cm). The base
  // accepts guidance only.
  virtual void check_knobs(const SamplerKnobs& knobs) const;
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
