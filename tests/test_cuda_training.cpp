// Training on a CUDA device: bf16 autocast through the training loop (train.precision = "bf16")
// stays close to fp32 with float32 weights, and one forward + backward of the DDPM++ and EDM2
// U-Nets on the GPU equals the CPU's to float32 rounding (TF32 off).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/checkpoint.h"
#include "core/config.h"
#include "harness/trainer.h"
#include "nets/checkpoint_io.h"
#include "nets/factory.h"
#include "test_cuda_util.h"
#include "test_util.h"

namespace cmbench {
namespace {

// The CPU test's problem (tests/test_harness_train.cpp, Bf16AutocastTrainsCloseToFp32) on the GPU:
// 2-D Gaussian data and a small MLP with dropout, or the tiny DDPM++ U-Net on 3x32x32 Gaussian data.
std::string mlp_config() {
  return "seed = 7\ndevice = \"cuda\"\n[method]\nname = \"ect\"\nstage_steps = 100\n"
         "[net]\narch = \"mlp\"\nimg_channels = 2\nimg_resolution = 1\nhidden = 64\nlayers = 2\ndropout = 0.1\n"
         "[data]\nsource = \"gaussian\"\nmean = 0.3\nstd = 0.5\nchannels = 2\nresolution = 1\n"
         "[train]\nsteps = 3\nbatch = 64\noptimizer = \"radam\"\nlr = 1e-3\ncheckpoint_every = 3\nlog_every = 1\n";
}

std::string unet_config() {
  return "seed = 7\ndevice = \"cuda\"\n[method]\nname = \"edm\"\n"
         "[net]\npreset = \"cifar10-ddpmpp-tiny\"\ndropout = 0.1\n"
         "[data]\nsource = \"gaussian\"\nchannels = 3\nresolution = 32\n"
         "[train]\nsteps = 3\nbatch = 16\noptimizer = \"radam\"\nlr = 1e-4\ncheckpoint_every = 3\nlog_every = 1\n";
}

// A checkpoint of the U-Net with random weights (test_cuda_util.h) to start from: at the preset's
// initialization D(x) = c_skip x, and bf16 would have nothing to round.
std::string random_unet_checkpoint(const std::string& path) {
  auto net = make_network(Config::from_string("preset = \"cifar10-ddpmpp-tiny\"\ndropout = 0.1\n"));
  test::randomize_parameters(*net, 17);
  Checkpoint c;
  c.config = network_config(*net);
  c.groups["model"] = net->state();
  write_checkpoint(path, c);
  return path;
}

void train_to(const std::string& text, const std::string& out, const std::vector<std::string>& sets = {}) {
  auto config = Config::from_string(text, "<test>");
  config.set_all(sets);
  TrainRequest r;
  r.plan = read_train_plan(config);
  r.out = out;
  r.progress = false;
  train(std::move(r));
}

double first_loss(const std::string& log_path) {
  std::istringstream in(test::read_text(log_path));
  std::string line;
  std::getline(in, line);  // header
  std::getline(in, line);
  const auto a = line.find(',');
  return std::stod(line.substr(a + 1, line.find(',', a + 1) - a - 1));
}

void expect_bf16_close_to_fp32(const std::string& name, const std::string& text, std::vector<std::string> sets = {}) {
  test::TempDir dir;
  train_to(text, dir.file("fp32"), sets);
  sets.push_back("train.precision=\"bf16\"");
  train_to(text, dir.file("bf16"), sets);
  const double fp32 = first_loss(dir.file("fp32/training_log.csv"));
  const double bf16 = first_loss(dir.file("bf16/training_log.csv"));
  std::printf("measured %s bf16_loss_relative_change %.3g\n", name.c_str(), std::abs(bf16 - fp32) / std::abs(fp32));
  EXPECT_NE(fp32, bf16) << "autocast had no effect on CUDA";
  EXPECT_NEAR(bf16, fp32, 0.05 * std::abs(fp32));
  const auto ckpt = read_checkpoint(dir.file("bf16/ckpt-00000003.h5"));
  for (const auto& [tensor_name, tensor] : ckpt.group("model")) {
    EXPECT_EQ(tensor.scalar_type(), torch::kFloat32) << tensor_name;
    EXPECT_TRUE(torch::isfinite(tensor).all().item<bool>()) << tensor_name;
  }
}

TEST(CudaTraining, Bf16AutocastTrainsCloseToFp32) {
  CMBENCH_REQUIRE_CUDA();
  expect_bf16_close_to_fp32("mlp", mlp_config());
}

TEST(CudaTraining, Bf16AutocastTrainsTheUNetCloseToFp32) {
  CMBENCH_REQUIRE_CUDA();
  test::TempDir dir;
  const auto init = random_unet_checkpoint(dir.file("init.h5"));
  expect_bf16_close_to_fp32("ddpmpp-tiny", unet_config(), {"train.init=\"" + init + "\""});
}

// Output and parameter gradients of loss = sum(D(x, sigma) * w) on both devices, random weights,
// dropout off so that no random draw differs. Tolerance 1e-4 (normwise, all gradients together):
// the CPU's own kernels for other instruction sets (ci/README.md's emulation) move these by at
// most 4e-7 (outputs) and 4.4e-6 (gradients); TF32's 10-bit mantissa would give about 1e-3, and a
// wrong kernel or a tensor left behind order one.
void expect_forward_backward_matches_cpu(const std::string& preset) {
  test::Tf32FlagsRestorer restore;
  compat::disable_tf32();
  const auto table = Config::from_string("preset = \"" + preset + "\"\ndropout = 0.0\n");
  auto cpu = make_network(table);
  auto gpu = make_network(table);
  test::randomize_parameters(*cpu, 21);
  test::randomize_parameters(*gpu, 21);
  gpu->to(test::cuda_device());
  cpu->train();
  gpu->train();

  auto g = compat::make_cpu_generator(5);
  const int64_t n = 4, res = cpu->img_resolution(), ch = cpu->img_channels();
  const auto x = torch::randn({n, ch, res, res}, g, torch::kFloat32);
  const auto sigma = (torch::randn({n}, g, torch::kFloat32) * 1.2 - 1.2).exp();
  const auto w = torch::randn({n, ch, res, res}, g, torch::kFloat32);
  torch::Tensor labels;
  if (cpu->label_dim() > 0)
    labels = torch::one_hot(torch::arange(n) % cpu->label_dim(), cpu->label_dim()).to(torch::kFloat32);

  const auto run = [&](Denoiser& net, const torch::Device& device) {
    const auto out = net.forward(x.to(device), sigma.to(device), labels.defined() ? labels.to(device) : labels);
    (out * w.to(device)).sum().backward();
    return out.detach().to(torch::kCPU);
  };
  const auto out_cpu = run(*cpu, torch::kCPU);
  const auto out_gpu = run(*gpu, test::cuda_device());
  const double out_error = test::normwise_error(out_gpu, out_cpu);
  std::printf("measured %s output_error %.3g\n", preset.c_str(), out_error);
  EXPECT_LE(out_error, 1e-4) << preset << " output";

  const auto p_cpu = cpu->named_parameters(), p_gpu = gpu->named_parameters();
  ASSERT_EQ(p_cpu.size(), p_gpu.size());
  std::vector<torch::Tensor> grads_cpu, grads_gpu;
  for (size_t i = 0; i < p_cpu.size(); ++i) {
    const auto& a = p_cpu[i].value().grad();
    const auto& b = p_gpu[i].value().grad();
    ASSERT_EQ(a.defined(), b.defined()) << p_cpu[i].key();
    if (!a.defined()) continue;
    EXPECT_TRUE(b.device().is_cuda()) << p_gpu[i].key();
    grads_cpu.push_back(a.flatten());
    grads_gpu.push_back(b.to(torch::kCPU).flatten());
  }
  ASSERT_FALSE(grads_cpu.empty());
  const double grad_error = test::normwise_error(torch::cat(grads_gpu), torch::cat(grads_cpu));
  std::printf("measured %s gradient_error %.3g\n", preset.c_str(), grad_error);
  EXPECT_LE(grad_error, 1e-4) << preset << " gradients";
}

TEST(CudaTraining, DdpmppForwardBackwardMatchesCpu) {
  CMBENCH_REQUIRE_CUDA();
  expect_forward_backward_matches_cpu("cifar10-ddpmpp-tiny");
}

TEST(CudaTraining, Edm2ForwardBackwardMatchesCpu) {
  CMBENCH_REQUIRE_CUDA();
  expect_forward_backward_matches_cpu("imagenet64-edm2-tiny");
}

}  // namespace
}  // namespace cmbench
