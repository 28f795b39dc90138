// Suite files (TOML): a whole benchmark. Trainer tables shared by every stage ([data], [net],
// [precond], [ema], [train]), stages with dependencies and budgets, the evaluation protocol,
// per-metric policies for `compare`, and published [[reference]] rows (METHODS.md §9).
//
//   [suite]              name, description, seed
//   [stages.NAME]        method (edm, cd, ct, ict, ect, sct); steps or images (the budget);
//                        batch; init = STAGE (start from its weights); teacher = STAGE (CD);
//                        depends = [STAGE...]; nfe = [...] (overrides evaluation.nfe);
//                        [stages.NAME.options] method options; [stages.NAME.train] train overrides;
//                        [stages.NAME.net] a network of its own (replaces [net]);
//                        [stages.NAME.ema.ID] EMA profiles of its own (replace [ema])
//   [evaluation]         nfe = [1, 2]; num_samples; seed_sets = ["0-255", ...]; batch; grid;
//                        allow_protocol_mismatch (false); is_shuffle_seed (absent: IS in sample
//                        order as StyleGAN, ECT and guided-diffusion; 2020: torch-fidelity's);
//                        [evaluation.sigmas] NFE = [sigma_mid...]; EDM stages sample with Heun
//                        at odd NFE = 2N - 1 (N grid points);
//                        [evaluation.reference] images (SWD, and FID statistics computed from this
//                        split when no statistics file is given), statistics (.npz; mu_s/sigma_s and
//                        mu_dinov2/sigma_dinov2 serve sfid and fd_dinov2 too), weights (Inception),
//                        dinov2_weights (fd_dinov2), vgg16 (pr50k3_*)
//   [metrics.NAME]       any value of the metric registry (fid, is_mean, is_std, swd, sfid, kid_mean,
//                        precision, pr50k3_precision, fd_dinov2, ...): direction,
//                        rtol, atol, aggregate (mean, min, max); defaults from the registry
//   [[reference]]        method, label, nfe, metric, value, num_samples, source
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
#include "results/records.h"

namespace cmbench {

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
  std::vector<int64_t> nfe;          // NFEs to evaluate
  std::string where;                 // "file:line" of the stage table
};

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
};

struct Suite {
  std::string path, name, description;
  int64_t seed = 0;
  Config base;                      // the shared trainer tables (data, net, precond, ema, train)
  std::vector<SuiteStage> stages;   // in dependency order (file order among independent stages)
  SuiteEvaluation evaluation;
  results::SuiteRecord record;      // metric policies and published references for the store
  std::string dataset() const;      // data.source
};

Suite load_suite(const std::string& path);
Suite parse_suite(const std::string& text, const std::string& source);

}  // namespace cmbench
