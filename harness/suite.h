// Suite files (TOML): a whole benchmark. Trainer tables shared by every stage ([data], [net],
// [precond], [ema], [train]), stages with dependencies and budgets, the evaluation protocol,
// per-metric policies for `compare`, and published [[reference]] rows (METHODS.md §9).
//
//   [suite]              name, description, seed
//   [stages.NAME]        method (edm, cd, ct, ict, ect, sct); steps or images (the budget);
//                        batch; init = STAGE (start from its weights); teacher = STAGE (CD);
//                        depends = [STAGE...]; nfe = [...] (short for evaluation.nfe);
//                        [stages.NAME.options] method options; [stages.NAME.train] train overrides;
//                        [stages.NAME.data] and [stages.NAME.precond] keys over [data] and [precond];
//                        [stages.NAME.net] a network of its own (replaces [net]);
//                        [stages.NAME.ema.ID] EMA profiles of its own (replace [ema]);
//                        [stages.NAME.evaluation] nfe, sigmas, sampler, sampler_by_nfe, ema, posthoc_sigma_rel and
//                        reference over [evaluation] (the sample counts and seed sets stay suite-wide)
//   [evaluation]         nfe = [1, 2]; num_samples; seed_sets = ["0-255", ...]; batch; grid;
//                        allow_protocol_mismatch (false); is_shuffle_seed (absent: IS in sample
//                        order as StyleGAN, ECT and guided-diffusion; 2020: torch-fidelity's);
//                        [evaluation.sigmas] NFE = [sigma_mid...]; EDM stages sample with Heun
//                        at odd NFE = 2N - 1 (N grid points);
//                        [evaluation.sampler] s_churn, s_min, s_max, s_noise (EDM's stochastic
//                        Heun), clamp (consistency samplers), guidance, edge_skip (methods/sampler.h);
//                        [evaluation.sampler_by_nfe.N] knobs for NFE N only, over [evaluation.sampler]
//                        (EDM's ImageNet-64: deterministic at NFE 79, S_churn 40 at NFE 511);
//                        ema = ["ema", ...]: the EMA profiles evaluated (default: every profile);
//                        curve_every = STEPS: evaluate also at every multiple of STEPS (metric curves
//                        against training images; the grids come from the end); truth_probes (64 per
//                        bucket) and target_draws (32 per probe) size the ground-truth metrics;
//                        posthoc_sigma_rel = [0.05, ...]: EDM2 post-hoc EMA reconstructions from
//                        the stage's power-function profiles, evaluated as profile "posthoc-S";
//                        [evaluation.reference] images (SWD, and FID statistics computed from this
//                        split when no statistics file is given), statistics (.npz; mu_s/sigma_s and
//                        mu_dinov2/sigma_dinov2 serve sfid and fd_dinov2 too), weights (Inception),
//                        dinov2_weights (fd_dinov2), vgg16 (pr50k3_*)
//   [metrics.NAME]       any value of the metric registry (fid, is_mean, is_std, swd, sfid, kid_mean,
//                        precision, pr50k3_precision, fd_dinov2, ...): direction,
//                        rtol, atol, aggregate (mean, min, max); defaults from the registry
//   [[reference]]        method, label, nfe, metric, value, num_samples, source; stage (optional:
//                        the row compares with that stage only, else with every stage of the method)
//
// Unknown keys, unknown stages and dependency cycles are InputErrors naming "file:line".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "harness/sample.h"
#include "methods/sampler.h"
#include "results/records.h"

namespace cmbench {

struct SuiteEvaluation {
  std::vector<int64_t> nfe;
  std::map<int64_t, std::vector<double>> sigmas;  // intermediate levels per NFE (cm/ect samplers)
  int64_t num_samples = 0, batch = 64;
  std::vector<SeedRange> seed_sets;
  bool grid = true;
  std::string reference_images, reference_statistics, weights;
  std::string dinov2_weights, vgg16;     // [evaluation.reference] for fd_dinov2 and pr50k3
  bool allow_protocol_mismatch = false;  // compare features of different protocols (recorded in each row)
  std::optional<uint32_t> is_shuffle_seed;  // IS: none (StyleGAN, ECT, guided-diffusion) or torch-fidelity's 2020
  SamplerKnobs sampler;                  // [evaluation.sampler]
  std::map<int64_t, SamplerKnobs> sampler_by_nfe;  // [evaluation.sampler_by_nfe.N]: knobs at NFE N over `sampler`
  std::vector<std::string> ema;          // EMA profiles to evaluate (checkpoint names); empty: every profile
  std::vector<double> posthoc_sigma_rel; // EDM2 post-hoc reconstructions to evaluate
  int64_t curve_every = 0;               // also evaluate every this many steps (the metric curves); 0: the end only
  int64_t truth_probes = 64;             // ground-truth metrics: probes per noise-level bucket (core/gaussian_mixture.h)
  int64_t target_draws = 32;             // target statistics: target draws per probe
  // The key that tells two evaluations' references apart (same key: the same reference features).
  std::string reference_key() const;
  const SamplerKnobs& knobs_at(int64_t nfe) const;  // sampler_by_nfe's entry, else `sampler`
};

struct SuiteStage {
  std::string name, method, description;
  std::string sampler;               // the method's sampler (its registry entry's rule)
  std::vector<std::string> depends;  // every stage this one needs (init, teacher and depends)
  std::string init, teacher;         // stage names, "" when none
  int64_t steps = 0, batch = 0;      // steps from the budget (images are converted with the batch)
  Config options;                    // method options besides the name
  Config train;                      // train.* overrides
  Config net;                        // replaces [net] for this stage when not empty
  Config ema;                        // replaces [ema] (the EMA profiles) for this stage when not empty
  Config data, precond;              // keys over [data] and [precond]
  SuiteEvaluation evaluation;        // [evaluation] with the stage's [stages.NAME.evaluation] over it
  std::string where;                 // "file:line" of the stage table
};

struct Suite {
  std::string path, name, description;
  int64_t seed = 0;
  Config base;                      // the shared trainer tables (data, net, precond, ema, train)
  std::vector<SuiteStage> stages;   // in dependency order (file order among independent stages)
  SuiteEvaluation evaluation;       // the suite-wide defaults; each stage holds its own resolved copy
  results::SuiteRecord record;      // metric policies and published references for the store
  std::string dataset() const;      // data.source
};

Suite load_suite(const std::string& path);
Suite parse_suite(const std::string& text, const std::string& source);

}  // namespace cmbench
