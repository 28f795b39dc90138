// Sampling on a CUDA device (methods/samplers.h): the CM, ECT and Heun rules with a U-Net on the
// GPU give the CPU's images, with every latent and re-noising draw still taken from the per-image
// CPU generators (so a seed gives the same image on either device).
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "methods/samplers.h"
#include "nets/factory.h"
#include "test_cuda_util.h"

namespace cmbench {
namespace {

using Sampler = std::function<SampleResult(const DenoiseFn&, const torch::Tensor&, std::vector<torch::Generator>&)>;

SampleResult sample_on(const torch::Device& device, const Sampler& sampler) {
  auto net = make_preset_network("cifar10-ddpmpp-tiny", 3);
  test::randomize_parameters(*net, 4);
  net->to(device);
  std::vector<torch::Generator> generators;
  for (uint64_t seed = 100; seed < 106; ++seed) generators.push_back(compat::make_cpu_generator(seed));
  const auto latents = per_image_normal(generators, {3, 32, 32}, device);
  return sampler(make_denoise_fn(*net, {}), latents, generators);
}

torch::Tensor to_uint8(const torch::Tensor& x) {
  return (x.to(torch::kCPU) * 127.5 + 128).floor().clamp(0, 255).to(torch::kInt32);
}

// Float32 networks on both devices (random weights), TF32 off, float64 sampler state. Other CPU
// kernels move these images by at most 1.6e-6 normwise; the bound 1e-4 leaves room for the GPU's, and
// a draw from the wrong generator moves the images by order one. Quantized, a pixel may fall on the
// other side of a rounding boundary.
void expect_same_images(const std::string& name, const Sampler& sampler, int64_t nfe) {
  test::Tf32FlagsRestorer restore;
  compat::disable_tf32();
  const auto cpu = sample_on(torch::kCPU, sampler);
  const auto gpu = sample_on(test::cuda_device(), sampler);
  EXPECT_TRUE(gpu.images.device().is_cuda()) << name;
  EXPECT_EQ(gpu.images.scalar_type(), torch::kFloat64) << name;
  EXPECT_EQ(gpu.nfe, nfe) << name;
  EXPECT_EQ(cpu.nfe, nfe) << name;
  const double error = test::normwise_error(gpu.images, cpu.images);
  std::printf("measured %s image_error %.3g\n", name.c_str(), error);
  EXPECT_LE(error, 1e-4) << name;
  EXPECT_LE((to_uint8(gpu.images) - to_uint8(cpu.images)).abs().max().item<int>(), 1) << name;
}

TEST(CudaSampling, EctOneAndTwoStepsMatchCpu) {
  CMBENCH_REQUIRE_CUDA();
  expect_same_images("ect 1 step", [](auto& d, auto& z, auto& g) { return ect_sample(d, z, g, {80.0}); }, 1);
  expect_same_images("ect 2 steps", [](auto& d, auto& z, auto& g) { return ect_sample(d, z, g, {80.0, 0.821}); }, 2);
}

TEST(CudaSampling, CmTwoStepsMatchCpu) {
  CMBENCH_REQUIRE_CUDA();
  expect_same_images("cm 2 steps", [](auto& d, auto& z, auto& g) { return cm_sample(d, z, g, {80.0, 0.821}, 0.002); }, 2);
}

TEST(CudaSampling, HeunWithChurnMatchesCpu) {
  CMBENCH_REQUIRE_CUDA();
  // Churn draws fresh noise on every step from the per-image generators.
  const auto heun = HeunOptions().steps(3).s_churn(1.0);
  expect_same_images("heun", [heun](auto& d, auto& z, auto& g) { return heun_sample(d, z, g, heun); }, 5);
}

}  // namespace
}  // namespace cmbench
