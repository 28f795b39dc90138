// A network's answers at the ground truth's probe set (metrics/metric.h TruthAnswers): f_theta(x_t, t)
// at every probe, for the consistency error. f_theta is the network as the samplers call it (eval
// mode, no grad, its eval preconditioning: the consistency function of a CM, the denoiser of an EDM
// model), without the samplers' clamping to [-1, 1]; the probes enter as float32, as images do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/gaussian_mixture.h"
#include "nets/denoiser.h"

namespace cmbench {

// f_theta at the probes, `batch` probes per call on `device`: (P, C, H, W) float64 on the CPU.
// InputError naming the network's architecture when its image shape is not the probes'.
torch::Tensor consistency_outputs(Denoiser& net, const TruthProbes& probes, int64_t batch, const torch::Device& device);

// The same for weights group `ema` of checkpoint `ckpt`, named as `cmbench sample --ema` names it
// ("" the default weights, "ema", "model", "target", a profile NAME or "ema.NAME"), on `device` ("auto",
// "cpu", "cuda", "cuda:N").
torch::Tensor consistency_outputs(const std::string& ckpt, const std::string& ema, const TruthProbes& probes,
                                  int64_t batch, const std::string& device);

// The checkpoint group `cmbench sample --ema NAME` reads (see above), from the file's `groups`.
std::string sampled_weights_group(const std::vector<std::string>& groups, const std::string& ema, const std::string& ckpt);

}  // namespace cmbench
