#include "methods/toy_networks.h"

namespace cmbench {

ToyDenoiser::ToyDenoiser(double a, double b, PrecondConfig precond)
    : Denoiser({{"arch", "toy"}, {"toy_a", a}, {"toy_b", b}}, precond) {
  a_ = register_parameter("a", torch::tensor(a, torch::kFloat64));
  b_ = register_parameter("b", torch::tensor(b, torch::kFloat64));
}

torch::Tensor ToyDenoiser::denoise(const torch::Tensor& x, const torch::Tensor& sigma,
                                   const torch::Tensor& /*class_labels*/, const torch::Tensor& /*augment_labels*/,
                                   const PrecondMode& mode) {
  const auto levels = broadcast_sigma(sigma, x.size(0), x.scalar_type());
  const auto network = [&](const torch::Tensor& u, const torch::Tensor& c_noise) {
    std::vector<int64_t> shape(static_cast<size_t>(u.dim()), 1);
    shape[0] = -1;
    return torch::tanh(a_.to(u.dtype()) * u + b_.to(u.dtype()) * c_noise.reshape(shape));
  };
  return precondition(mode, precond().sigma_data, precond().c_noise_scale, network, x, levels);
}

}  // namespace cmbench
