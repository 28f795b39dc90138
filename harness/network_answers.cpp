#include "harness/network_answers.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/checkpoint.h"
#include "core/device.h"
#include "core/error.h"
#include "methods/samplers.h"
#include "nets/checkpoint_io.h"

namespace cmbench {

torch::Tensor consistency_outputs(Denoiser& net, const TruthProbes& probes, int64_t batch, const torch::Device& device) {
  const auto shape = probes.x_t.sizes();
  if (net.img_channels() != shape[1] || net.img_resolution() != shape[2] || net.img_resolution() != shape[3]) {
    throw InputError(fmt::format("network '{}' makes {}x{}x{} images, the ground truth's probes are {}x{}x{}", net.arch(),
                                 net.img_channels(), net.img_resolution(), net.img_resolution(), shape[1], shape[2],
                                 shape[3]));
  }
  if (batch < 1) throw InputError(fmt::format("consistency outputs: batch must be >= 1, got {}", batch));
  const auto f_theta = make_denoise_fn(net, {}, 1.0);
  const int64_t count = probes.x_t.size(0);
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < count; begin += batch) {
    const int64_t end = std::min(begin + batch, count);
    const auto x = probes.x_t.slice(0, begin, end).to(device, torch::kFloat32);
    const auto t = probes.t.slice(0, begin, end).to(device, torch::kFloat32);
    parts.push_back(f_theta(x, t).to(torch::kCPU, torch::kFloat64));
  }
  return torch::cat(parts);
}

std::string sampled_weights_group(const std::vector<std::string>& groups, const std::string& ema, const std::string& ckpt) {
  if (ema.empty()) return default_weights_group(groups, ckpt);
  const bool group_name = ema == "ema" || ema == "model" || ema == "target" || ema.rfind("ema.", 0) == 0;
  return group_name ? ema : "ema." + ema;
}

torch::Tensor consistency_outputs(const std::string& ckpt, const std::string& ema, const TruthProbes& probes,
                                  int64_t batch, const std::string& device) {
  const auto group = sampled_weights_group(checkpoint_groups(ckpt), ema, ckpt);
  const auto checkpoint = read_checkpoint(ckpt, {group});
  const auto where = resolve_device(device);
  auto net = network_from_checkpoint(checkpoint, group, ckpt);
  net->to(where);
  try {
    return consistency_outputs(*net, probes, batch, where);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{} (/{}): {}", ckpt, group, e.what()));
  }
}

}  // namespace cmbench
