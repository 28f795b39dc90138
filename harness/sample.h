// `cmbench sample` (DESIGN.md): a checkpoint's network, a sampling rule, one generator per image
// (seeded A + i), optional initial latents and labels from files; writes uint8 PNGs or an .npz.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/process_group.h"
#include "methods/sampler.h"

namespace cmbench {

// Seeds first..last (inclusive), one generator per image: `cmbench sample --seeds A-B`, a suite's seed_sets.
struct SeedRange {
  int64_t first = 0, last = 0;
  int64_t count() const { return last - first + 1; }
  std::string label() const;  // "A-B"
};

// "A-B" with 0 <= A <= B; InputError "`what` 'TEXT' must be a range A-B with 0 <= A <= B".
SeedRange parse_seed_range(const std::string& text, const std::string& what);

struct SampleRequest {
  std::string ckpt, out;
  int64_t num = 0;
  int64_t steps = 0;           // 0: the sampler's default
  std::vector<double> sigmas;  // intermediate levels, descending (cm/ect); empty: the method's default
  std::string sampler;         // a sampler_registry() name; "" = the checkpoint method's rule
  std::string ema;             // weights group name ("" = ema, else model)
  std::optional<SeedRange> seeds;  // none: 0..num-1; else exactly num seeds
  std::string noise, labels;   // .npz files (keys noise, labels)
  SamplerKnobs knobs;          // churn, clamp, guidance, edge skipping (methods/sampler.h)
  int64_t batch = 0;           // 0: 64
  std::string device = "auto"; // cpu, cuda, cuda:N or auto (CUDA when available)
  bool raw = false;
  bool progress = true;
  // Ranks sharing the work (null: one process): batch k is made by rank k mod W (owns_batch), each
  // PNG by its maker, an .npz by rank 0 from the gathered images; the files equal one process's.
  std::shared_ptr<ProcessGroup> group;
};

// `--sigmas a,b,...` as numbers; InputError naming the item that is not one.
std::vector<double> parse_sigma_list(const std::string& text);

nlohmann::json sample(const SampleRequest& request);

}  // namespace cmbench
