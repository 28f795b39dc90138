#include "nets/denoiser.h"

#include "core/error.h"

namespace cmbench {

torch::Tensor Denoiser::forward(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                                const torch::Tensor& augment_labels) {
  return denoise(x, sigma, class_labels, augment_labels, precond_.mode(is_training()));
}

void Denoiser::set_channels_last(bool enabled) {
  torch::NoGradGuard no_grad;
  const auto format = enabled ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& [name, tensor] : state()) {
    if (tensor.dim() == 4) tensor.set_data(tensor.contiguous(format));
  }
  channels_last_ = enabled;
}

int64_t Denoiser::parameter_count() {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

torch::Tensor PreconditionedNetwork::denoise(const torch::Tensor& x, const torch::Tensor& sigma,
                                             const torch::Tensor& class_labels, const torch::Tensor& augment_labels,
                                             const PrecondMode& mode) {
  const auto levels = broadcast_sigma(sigma, x.size(0), x.scalar_type());
  const auto network = [&](const torch::Tensor& scaled_x, const torch::Tensor& c_noise) {
    // The weights are float32; float64 inputs (samplers) are evaluated in float32.
    auto input = scaled_x.to(torch::kFloat32);
    if (channels_last() && input.dim() == 4) input = input.contiguous(at::MemoryFormat::ChannelsLast);
    return raw(input, c_noise.to(torch::kFloat32), class_labels, augment_labels);
  };
  return precondition(mode, precond().sigma_data, precond().c_noise_scale, network, x, levels);
}

NamedTensors ordered_state(torch::nn::Module& module, const std::string& prefix) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(/*recurse=*/false)) out.emplace_back(prefix + item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/false)) out.emplace_back(prefix + item.key(), item.value());
  for (const auto& child : module.named_children()) {
    auto sub = ordered_state(*child.value(), prefix + child.key() + ".");
    out.insert(out.end(), std::make_move_iterator(sub.begin()), std::make_move_iterator(sub.end()));
  }
  return out;
}

torch::Tensor broadcast_sigma(const torch::Tensor& sigma, int64_t batch, torch::Dtype dtype) {
  auto s = sigma.to(dtype).reshape({-1});
  if (s.size(0) == 1 && batch != 1) return s.expand({batch});
  if (s.size(0) != batch)
    throw InputError("denoiser: sigma has " + std::to_string(s.size(0)) + " levels for a batch of " +
                     std::to_string(batch));
  return s;
}

}  // namespace cmbench
