#include "methods/sampler.h"

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {

// EDM's Heun solver (Algorithm 1 of Karras et al. 2022): `steps` grid points, NFE = 2 steps - 1.
class HeunSampler final : public Sampler {
 public:
  std::string name() const override { return "heun"; }

  SamplingPlan plan(const SamplerSettings& settings, const Method&) const override {
    if (!settings.sigmas.empty()) throw InputError("--sigmas applies to the cm and ect samplers, not heun");
    SamplingPlan plan;
    plan.steps = settings.steps == 0 ? HeunOptions().steps() : settings.steps;
    if (plan.steps < 2) throw InputError("--steps for heun must be at least 2");
    return plan;
  }

  SamplerSettings settings_for_nfe(int64_t nfe, const NfeLevels&) const override {
    if (nfe < 3 || nfe % 2 == 0) throw InputError(fmt::format("Heun evaluates odd NFE = 2N - 1 >= 3, not {}", nfe));
    SamplerSettings settings;
    settings.steps = (nfe + 1) / 2;
    return settings;
  }

  SampleResult run(const SamplingPlan& plan, const DenoiseFn& denoise, const torch::Tensor& latents,
                   std::vector<torch::Generator>& generators, const Denoiser&) const override {
    return heun_sample(denoise, latents, generators, HeunOptions().steps(plan.steps));
  }
};

// The consistency samplers visit [sigma_max, intermediates...]: the user's --sigmas, else the
// method's default levels for --steps (Method::default_levels).
class MultistepSampler : public Sampler {
 public:
  SamplingPlan plan(const SamplerSettings& settings, const Method& method) const override {
    SamplingPlan plan;
    if (!settings.sigmas.empty()) {
      plan.levels = {method.default_levels(1).at(0)};
      plan.levels.insert(plan.levels.end(), settings.sigmas.begin(), settings.sigmas.end());
      if (settings.steps != 0 && settings.steps != static_cast<int64_t>(plan.levels.size())) {
        throw InputError(fmt::format("--steps {} conflicts with --sigmas ({} steps)", settings.steps, plan.levels.size()));
      }
    } else {
      plan.levels = method.default_levels(settings.steps == 0 ? 1 : settings.steps);
      if (plan.levels.empty()) {
        throw InputError(fmt::format("--steps {}: {} has no default levels for {} steps; give --sigmas", settings.steps,
                                     method.name(), settings.steps));
      }
    }
    plan.steps = static_cast<int64_t>(plan.levels.size());
    return plan;
  }

  SamplerSettings settings_for_nfe(int64_t nfe, const NfeLevels& levels) const override {
    SamplerSettings settings;
    if (nfe == 1) {
      settings.steps = 1;
      return settings;
    }
    const auto it = levels.find(nfe);
    if (it == levels.end()) throw InputError(fmt::format("[evaluation.sigmas] has no levels for NFE {}", nfe));
    settings.sigmas = it->second;
    return settings;
  }
};

// Consistency models' multistep rule (Song et al. 2023, Algorithm 1): re-noise with sqrt(t^2 - eps^2) z.
class CmSampler final : public MultistepSampler {
 public:
  std::string name() const override { return "cm"; }
  SampleResult run(const SamplingPlan& plan, const DenoiseFn& denoise, const torch::Tensor& latents,
                   std::vector<torch::Generator>& generators, const Denoiser& net) const override {
    return cm_sample(denoise, latents, generators, plan.levels, net.precond().eval.eps_b);
  }
};

// ECT's multistep rule: re-noise with t z.
class EctSampler final : public MultistepSampler {
 public:
  std::string name() const override { return "ect"; }
  SampleResult run(const SamplingPlan& plan, const DenoiseFn& denoise, const torch::Tensor& latents,
                   std::vector<torch::Generator>& generators, const Denoiser&) const override {
    return ect_sample(denoise, latents, generators, plan.levels);
  }
};

}  // namespace

const SamplerRegistry& sampler_registry() {
  static const SamplerRegistry registry = [] {
    SamplerRegistry r("sampler");
    r.add("heun", [] { return std::make_unique<HeunSampler>(); }, "EDM's Heun solver (NFE = 2 steps - 1)");
    r.add("cm", [] { return std::make_unique<CmSampler>(); }, "consistency models' multistep rule");
    r.add("ect", [] { return std::make_unique<EctSampler>(); }, "ECT's multistep rule");
    return r;
  }();
  return registry;
}

std::unique_ptr<Sampler> make_sampler(const std::string& name) { return sampler_registry().create(name); }

}  // namespace cmbench
