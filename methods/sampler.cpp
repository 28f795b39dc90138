#include "methods/sampler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "core/error.h"

namespace cmbench {

namespace {

const std::vector<std::string> knob_keys = {"s_churn", "s_min", "s_max", "s_noise", "clamp", "guidance", "edge_skip"};

bool default_churn(const SamplerKnobs& k) {
  const SamplerKnobs defaults;
  return k.s_churn == defaults.s_churn && k.s_min == defaults.s_min && k.s_max == defaults.s_max &&
         k.s_noise == defaults.s_noise;
}

// What each sampler refuses: churn is EDM's Heun's, the x0 clamp the consistency samplers'.
void reject_churn(const SamplerKnobs& k, const std::string& sampler) {
  if (!default_churn(k))
    throw InputError(fmt::format("S_churn, S_min, S_max and S_noise apply to the heun sampler, not {}", sampler));
}
void reject_clamp(const SamplerKnobs& k, const std::string& sampler) {
  if (k.clamp.value_or(false))
    throw InputError(fmt::format("clamp applies to the consistency samplers (cm, ect), not {}", sampler));
}
// SCT's edge-skipping multistep sampling (Wang et al. 2024) is not implemented: its definition in the
// paper could not be read, and no reference code is public.
void reject_edge_skip(const SamplerKnobs& k, const std::string& sampler) {
  if (k.edge_skip)
    throw InputError(fmt::format("edge_skip: SCT's edge-skipping sampling is not implemented (sampler {})", sampler));
}

}  // namespace

SamplerKnobs read_sampler_knobs(const Config& table) {
  if (const auto unknown = table.unknown_keys(knob_keys); !unknown.empty()) {
    throw InputError(fmt::format("{}: unknown sampler key '{}' (known: {})", table.where(unknown.front()),
                                 unknown.front(), fmt::join(knob_keys, ", ")));
  }
  SamplerKnobs k;
  const auto number = [&](const char* key, double fallback, bool ok(double), const char* rule) {
    const double value = table.get_or<double>(key, fallback);
    if (!ok(value)) throw InputError(fmt::format("{}: sampler {} = {} must be {}", table.where(key), key, value, rule));
    return value;
  };
  k.s_churn = number("s_churn", k.s_churn, [](double v) { return std::isfinite(v) && v >= 0; }, "finite and >= 0");
  k.s_min = number("s_min", k.s_min, [](double v) { return std::isfinite(v) && v >= 0; }, "finite and >= 0");
  k.s_max = number("s_max", k.s_max, [](double v) { return !std::isnan(v) && v >= 0; }, ">= 0 (inf: no upper bound)");
  if (k.s_max < k.s_min)
    throw InputError(fmt::format("{}: sampler s_max = {} is below s_min = {}",
                                 table.where(table.has("s_max") ? "s_max" : "s_min"), k.s_max, k.s_min));
  k.s_noise = number("s_noise", k.s_noise, [](double v) { return std::isfinite(v) && v > 0; }, "finite and > 0");
  k.guidance = number("guidance", k.guidance, [](double v) { return std::isfinite(v) && v >= 0; }, "finite and >= 0");
  if (table.has("clamp")) k.clamp = table.get<bool>("clamp");
  k.edge_skip = table.get_or<bool>("edge_skip", false);
  return k;
}

std::string describe_knobs(const SamplerKnobs& knobs, const Method& method) {
  std::vector<std::string> parts;
  if (!default_churn(knobs))
    parts.push_back(fmt::format("S_churn {}, S_min {}, S_max {}, S_noise {}", knobs.s_churn, knobs.s_min, knobs.s_max,
                                knobs.s_noise));
  if (knobs.clamp.has_value() && *knobs.clamp != method.clamps_denoised())
    parts.push_back(*knobs.clamp ? "clamp x0 to [-1, 1]" : "no x0 clamp");
  if (knobs.guidance != 1.0) parts.push_back(fmt::format("guidance {}", knobs.guidance));
  if (knobs.edge_skip) parts.push_back("edge-skipping");
  return fmt::format("{}", fmt::join(parts, ", "));
}

void Sampler::check_knobs(const SamplerKnobs& knobs) const {
  reject_churn(knobs, name());
  reject_clamp(knobs, name());
  reject_edge_skip(knobs, name());
}

namespace {

// EDM's Heun solver (Karras et al. 2022, Algorithm 1; with S_churn > 0 the stochastic Algorithm 2 as
// NVlabs/edm generate.py edm_sampler): `steps` grid points, NFE = 2 steps - 1.
class HeunSampler final : public Sampler {
 public:
  std::string name() const override { return "heun"; }

  SamplingPlan plan(const SamplerSettings& settings, const Method&) const override {
    if (!settings.sigmas.empty()) throw InputError("--sigmas applies to the cm and ect samplers, not heun");
    check_knobs(settings.knobs);
    SamplingPlan plan;
    plan.knobs = settings.knobs;
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
    const auto& k = plan.knobs;
    const auto options =
        HeunOptions().steps(plan.steps).s_churn(k.s_churn).s_min(k.s_min).s_max(k.s_max).s_noise(k.s_noise);
    return heun_sample(denoise, latents, generators, options);
  }

  void check_knobs(const SamplerKnobs& knobs) const override {
    reject_clamp(knobs, name());
    reject_edge_skip(knobs, name());
  }
};

// The consistency samplers visit [sigma_max, intermediates...]: the user's --sigmas, else the
// method's default levels for --steps (Method::default_levels).
class MultistepSampler : public Sampler {
 public:
  SamplingPlan plan(const SamplerSettings& settings, const Method& method) const override {
    check_knobs(settings.knobs);
    SamplingPlan plan;
    plan.knobs = settings.knobs;
    plan.clamp = settings.knobs.clamp.value_or(method.clamps_denoised());
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

  void check_knobs(const SamplerKnobs& knobs) const override {
    reject_churn(knobs, name());
    reject_edge_skip(knobs, name());
  }

 protected:
  // openai's clip_denoised (consistency_models cm/karras_diffusion.py, karras_sample's denoiser).
  static DenoiseFn denoiser(const SamplingPlan& plan, const DenoiseFn& denoise) {
    return plan.clamp ? clamp_denoised(denoise) : denoise;
  }
};

// Consistency models' multistep rule (Song et al. 2023, Algorithm 1): re-noise with sqrt(t^2 - eps^2) z.
class CmSampler final : public MultistepSampler {
 public:
  std::string name() const override { return "cm"; }
  SampleResult run(const SamplingPlan& plan, const DenoiseFn& denoise, const torch::Tensor& latents,
                   std::vector<torch::Generator>& generators, const Denoiser& net) const override {
    return cm_sample(denoiser(plan, denoise), latents, generators, plan.levels, net.precond().eval.eps_b);
  }
};

// ECT's multistep rule: re-noise with t z.
class EctSampler final : public MultistepSampler {
 public:
  std::string name() const override { return "ect"; }
  SampleResult run(const SamplingPlan& plan, const DenoiseFn& denoise, const torch::Tensor& latents,
                   std::vector<torch::Generator>& generators, const Denoiser&) const override {
    return ect_sample(denoiser(plan, denoise), latents, generators, plan.levels);
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
