// The CUDA default generator as the training code uses it (core/rng.h, methods/consistency.h): a
// saved state replays dropout masks and noise draws exactly, the CPU generator's state does not
// govern CUDA draws, and the student/target passes of a U-Net on the GPU see the same masks.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/config.h"
#include "core/rng.h"
#include "methods/consistency.h"
#include "nets/factory.h"
#include "test_cuda_util.h"

namespace cmbench {
namespace {

TEST(CudaRng, SavedStateReplaysDropoutAndNoise) {
  CMBENCH_REQUIRE_CUDA();
  const auto device = test::cuda_device();
  // No index, as the trainer passes a resolved "cuda": core/rng.h maps it to device 0's generator.
  auto generator = default_generator(torch::Device(torch::kCUDA));
  generator.set_current_seed(1234);
  const auto ones = torch::ones({64, 1024}, device);

  const auto state = generator_state(generator);
  const auto mask = torch::dropout(ones, 0.5, /*train=*/true);
  const auto noise = torch::randn({64, 1024}, device);
  const auto moved_on = torch::dropout(ones, 0.5, true);
  EXPECT_FALSE(torch::equal(mask, moved_on)) << "two dropout draws in a row gave the same mask";

  set_generator_state(generator, state);
  EXPECT_TRUE(torch::equal(torch::dropout(ones, 0.5, true), mask));
  EXPECT_TRUE(torch::equal(torch::randn({64, 1024}, device), noise));
}

TEST(CudaRng, CpuGeneratorStateDoesNotReplayCudaDraws) {
  CMBENCH_REQUIRE_CUDA();
  const auto ones = torch::ones({64, 1024}, test::cuda_device());
  auto cpu = default_generator(torch::kCPU);
  const auto cpu_state = generator_state(cpu);
  const auto mask = torch::dropout(ones, 0.5, true);
  set_generator_state(cpu, cpu_state);
  EXPECT_FALSE(torch::equal(torch::dropout(ones, 0.5, true), mask))
      << "CUDA dropout followed the CPU generator: replays must restore the CUDA generator";
}

// paired_passes with the student as its own target: the replayed target pass equals the student
// pass (same input, same masks), while a second plain pass draws new masks.
TEST(CudaRng, PairedPassesOfAUNetReplayDropoutMasks) {
  CMBENCH_REQUIRE_CUDA();
  const auto device = test::cuda_device();
  auto net = make_network(Config::from_string("preset = \"cifar10-ddpmpp-tiny\"\ndropout = 0.5\n"));
  test::randomize_parameters(*net, 12);  // the preset's zero output layer would hide the masks
  net->to(device);
  net->train();
  auto g = compat::make_cpu_generator(11);
  const auto x = torch::randn({4, 3, 32, 32}, g, torch::kFloat32).to(device);
  const auto sigma = torch::full({4}, 1.5, torch::kFloat32).to(device);

  const auto paired = paired_passes(*net, *net, x, sigma, x, sigma, {});
  const auto fresh = net->forward(x, sigma).detach();
  const double replay_error = test::normwise_error(paired.target, paired.student.detach());
  const double fresh_difference = test::normwise_error(fresh, paired.student.detach());
  std::printf("measured replay_error %.3g fresh_mask_difference %.3g\n", replay_error, fresh_difference);
  // Same kernels on the same data: equal up to float32 rounding at most (0 on the CPU); new masks
  // at dropout 0.5 change the output by order one (1.05 on the CPU).
  EXPECT_LE(replay_error, 1e-6);
  EXPECT_GE(fresh_difference, 0.1);
}

}  // namespace
}  // namespace cmbench
