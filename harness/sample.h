// `cmbench sample` (DESIGN.md): a checkpoint's network, a sampling rule, one generator per image
// (seeded A + i), optional initial latents and labels from files; writes uint8 PNGs or an .npz.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cmbench {

struct SampleRequest {
  std::string ckpt, out;
  int64_t num = 0;
  int64_t steps = 0;           // 0: the sampler's default
  std::vector<double> sigmas;  // intermediate levels, descending (cm/ect); empty: the method's default
  std::string sampler;         // a sampler_registry() name; "" = the checkpoint method's rule
  std::string ema;             // weights group name ("" = ema, else model)
  std::string seeds;           // "A-B" ("" = 0..num-1)
  std::string noise, labels;   // .npz files (keys noise, labels)
  double guidance = 1.0;
  int64_t batch = 0;           // 0: 64
  std::string device = "auto"; // cpu, cuda, cuda:N or auto (CUDA when available)
  bool raw = false;
  bool progress = true;
};

// `--sigmas a,b,...` as numbers; InputError naming the item that is not one.
std::vector<double> parse_sigma_list(const std::string& text);

nlohmann::json sample(const SampleRequest& request);

}  // namespace cmbench
