// Device-clean code without a GPU: every network family, the native detector, each method's loss
// and backward, each sampler, the EMA, the trainer and the metrics' tensor code run on a second
// device (tests/shadow_device.h), where a tensor left behind on the CPU fails like it fails on CUDA,
// and give the CPU's results.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/ema.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/rng.h"
#include "core/torch_compat.h"
#include "harness/sample.h"
#include "harness/trainer.h"
#include "methods/registry.h"
#include "methods/samplers.h"
#include "metrics/detector.h"
#include "metrics/inception_score.h"
#include "metrics/preprocess.h"
#include "metrics/statistics.h"
#include "metrics/swd.h"
#include "nets/factory.h"
#include "shadow_device.h"
#include "test_util.h"

namespace cmbench {
namespace {

using test::shadow_device;

class SecondDevice : public ::testing::Test {};

// Runs `f` and checks that it ran operators on the shadow device.
template <class F>
auto on_device(F f) {
  const auto before = test::shadow_operator_count();
  auto result = f();
  EXPECT_GT(test::shadow_operator_count(), before) << "nothing ran on the shadow device";
  return result;
}

void expect_equal_on_cpu(const torch::Tensor& cpu, const torch::Tensor& device, const std::string& what,
                         double rtol = 1e-6) {
  ASSERT_TRUE(device.defined()) << what;
  const auto back = device.to(torch::kCPU);
  ASSERT_EQ(cpu.sizes(), back.sizes()) << what;
  const double scale = cpu.abs().max().item<double>() + 1e-12;
  EXPECT_LE((cpu.to(torch::kFloat64) - back.to(torch::kFloat64)).abs().max().item<double>(), rtol * scale) << what;
}

TEST_F(SecondDevice, ShadowDeviceBehavesLikeASecondDevice) {
  const auto dev = shadow_device();
  const auto a = torch::arange(6, torch::kFloat32).reshape({2, 3});
  const auto x = a.to(dev);
  EXPECT_EQ(x.device(), dev);
  EXPECT_TRUE(torch::equal((x * 2 + 1).to(torch::kCPU), a * 2 + 1));
  // Views share memory; in-place writes through a view are seen by the base.
  auto row = x.select(0, 1);
  row.mul_(10);
  EXPECT_EQ(x.device(), dev);
  EXPECT_EQ(x[1][2].item<float>(), 50.0f);
  // Autograd, reductions and matmuls.
  auto w = torch::ones({3, 2}, torch::TensorOptions().device(dev).requires_grad(true));
  torch::matmul(x, w).sum().backward();
  EXPECT_EQ(w.grad().device(), dev);
  EXPECT_TRUE(torch::equal(w.grad().to(torch::kCPU), x.to(torch::kCPU).sum(0).unsqueeze(1).expand({3, 2})));
  // CPU scalars mix (as on CUDA); CPU arrays and CPU generators do not.
  EXPECT_NO_THROW(x + torch::ones({}));
  try {
    (void)(x + torch::ones({2, 3}));
    ADD_FAILURE() << "a CPU tensor mixed into a device operator was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("Expected all tensors to be on the same device"), std::string::npos);
  }
  auto g = compat::make_cpu_generator(1);
  EXPECT_THROW((void)torch::randn({3}, g, torch::TensorOptions().device(dev)), c10::Error);
}

TrainingBatch batch_on(const torch::Device& device, int64_t pool) {
  auto g = compat::make_cpu_generator(11);
  TrainingBatch b;
  b.images = (torch::rand({4, 3, 32, 32}, g) * 2 - 1).to(device);
  if (pool > 0) b.reference_images = (torch::rand({pool, 3, 32, 32}, g) * 2 - 1).to(device);
  return b;
}

// Forward and backward of every tiny preset (one per architecture family) in train mode (dropout on).
TEST_F(SecondDevice, EveryNetworkFamilyGivesTheCpuOutputsAndGradients) {
  for (const auto& preset : preset_names()) {
    if (!preset.ends_with("-tiny")) continue;  // each architecture family has one
    SCOPED_TRACE(preset);
    auto run = [&](const torch::Device& device) {
      auto net = make_preset_network(preset, 3);
      net->to(device);
      net->train();
      torch::manual_seed(5);
      const auto x = torch::randn({2, net->img_channels(), net->img_resolution(), net->img_resolution()}).to(device);
      const auto sigma = torch::tensor({0.5, 3.0}, torch::kFloat32).to(device);
      torch::Tensor labels;
      if (net->label_dim() > 0) labels = torch::eye(net->label_dim()).slice(0, 0, 2).to(device);
      auto y = net->forward(x, sigma, labels);
      y.square().mean().backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : net->parameters())
        if (p.grad().defined()) grads.push_back(p.grad());
      return std::make_pair(y.detach(), grads);
    };
    const auto cpu = run(torch::kCPU);
    const auto dev = on_device([&] { return run(shadow_device()); });
    EXPECT_EQ(dev.first.device(), shadow_device());
    expect_equal_on_cpu(cpu.first, dev.first, "output");
    ASSERT_EQ(cpu.second.size(), dev.second.size());
    for (size_t i = 0; i < cpu.second.size(); ++i) expect_equal_on_cpu(cpu.second[i], dev.second[i], "gradient", 1e-5);
  }
}

// Each method's draws, loss and backward on the device; the draws come from CPU generators, so the
// losses equal the CPU's.
TEST_F(SecondDevice, EveryMethodLossAndBackwardGiveTheCpuValues) {
  for (const auto& name : method_registry().names()) {
    SCOPED_TRACE(name);
    auto run = [&](const torch::Device& device) {
      auto method = make_method(name);
      Networks nets;
      nets.student = make_preset_network("cifar10-ddpmpp-tiny", 1);
      nets.student->to(device);
      nets.student->train();
      if (method->needs_target_copy()) nets.target = clone_network(*nets.student);
      if (method->needs_teacher()) {
        nets.teacher = make_preset_network("cifar10-ddpmpp-tiny", 2);
        nets.teacher->to(device);
        nets.teacher->eval();
      }
      const auto batch = batch_on(device, method->reference_pool_size(4));
      StepContext ctx;
      ctx.step = 3;
      ctx.total_steps = 10;
      ctx.generator = make_generator(9, "test");
      torch::manual_seed(21);  // dropout masks (the CPU generator serves the device, see compat::default_generator)
      auto result = method->step_loss(batch, ctx, nets);
      result.per_sample.mean().backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : nets.student->parameters())
        if (p.grad().defined()) grads.push_back(p.grad());
      return std::make_pair(result.per_sample.detach(), grads);
    };
    const auto cpu = run(torch::kCPU);
    const auto dev = on_device([&] { return run(shadow_device()); });
    expect_equal_on_cpu(cpu.first, dev.first, "loss", 1e-5);
    ASSERT_EQ(cpu.second.size(), dev.second.size());
    for (size_t i = 0; i < cpu.second.size(); ++i) expect_equal_on_cpu(cpu.second[i], dev.second[i], "gradient", 1e-4);
  }
}

TEST_F(SecondDevice, EverySamplerGivesTheCpuImages) {
  auto run = [&](const torch::Device& device, const std::string& sampler) {
    auto net = make_preset_network("imagenet64-edm2-tiny", 4);
    net->to(device);
    const auto labels = torch::eye(net->label_dim()).slice(0, 0, 3).to(device);
    auto denoise = make_denoise_fn(*net, labels, sampler == "heun" ? 1.5 : 1.0);  // heun with guidance
    std::vector<torch::Generator> generators;
    for (int i = 0; i < 3; ++i) generators.push_back(compat::make_cpu_generator(100 + i));
    const auto latents =
        per_image_normal(generators, {net->img_channels(), net->img_resolution(), net->img_resolution()}, device);
    if (sampler == "heun") {
      return heun_sample(denoise, latents, generators, HeunOptions().steps(3).s_churn(10).s_max(100)).images;
    }
    if (sampler == "cm") return cm_sample(denoise, latents, generators, {80.0, 0.8}, 0.002).images;
    return ect_sample(denoise, latents, generators, {80.0, 0.8}).images;
  };
  for (const std::string sampler : {"heun", "cm", "ect"}) {
    SCOPED_TRACE(sampler);
    const auto cpu = run(torch::kCPU, sampler);
    const auto dev = on_device([&] { return run(shadow_device(), sampler); });
    EXPECT_EQ(dev.device(), shadow_device());
    expect_equal_on_cpu(cpu, dev, "images", 1e-6);
  }
}

TEST_F(SecondDevice, EmaUpdatesStayOnTheDevice) {
  auto run = [&](const torch::Device& device, EmaOptions options) {
    auto net = make_preset_network("cifar10-ddpmpp-tiny", 1);
    net->to(device);
    Ema ema("ema", options, net->state());
    {
      torch::NoGradGuard no_grad;
      for (auto& p : net->parameters()) p.add_(1.0);
    }
    ema.update(net->state(), 1000, 64);
    for (const auto& [name, t] : ema.tensors()) EXPECT_EQ(t.device(), device) << name;
    return ema.tensors();
  };
  for (const auto& options : {EmaOptions().kind(EmaKind::fixed).beta(0.9), EmaOptions().kind(EmaKind::halflife),
                              EmaOptions().kind(EmaKind::power)}) {
    const auto cpu = run(torch::kCPU, options);
    const auto dev = on_device([&] { return run(shadow_device(), options); });
    ASSERT_EQ(cpu.size(), dev.size());
    for (size_t i = 0; i < cpu.size(); ++i) expect_equal_on_cpu(cpu[i].second, dev[i].second, cpu[i].first);
  }
}

// The FID Inception with its folded batch norms on the device (they were plain members left on the
// CPU by Module::to before 2026-12; every FID on a GPU failed).
TEST_F(SecondDevice, NativeDetectorRunsWithItsFoldedWeights) {
  auto images = torch::randint(0, 256, {2, 32, 32, 3}, compat::make_cpu_generator(3), torch::kUInt8);
  auto run = [&](const torch::Device& device) {
    auto net = load_native_inception("synthetic:0");
    net->to(device);
    torch::NoGradGuard no_grad;
    const auto x = preprocess_for_inception(images.to(device), ResizeMode::tf);
    return net->forward(x, true);
  };
  const auto cpu = run(torch::kCPU);
  const auto dev = on_device([&] { return run(shadow_device()); });
  expect_equal_on_cpu(cpu.pool3, dev.pool3, "pool3", 1e-5);
  expect_equal_on_cpu(cpu.logits_unbiased, dev.logits_unbiased, "logits", 1e-5);
}

// The metrics' tensor code accepts features and images from the device.
TEST_F(SecondDevice, MetricsAcceptDeviceTensors) {
  auto g = compat::make_cpu_generator(4);
  const auto features = torch::randn({64, 16}, g);
  const auto images_a = torch::randint(0, 256, {8, 16, 16, 3}, g, torch::kUInt8);
  const auto images_b = torch::randint(0, 256, {8, 16, 16, 3}, g, torch::kUInt8);
  const auto dev = shadow_device();

  const auto s_cpu = compute_statistics(features);
  const auto s_dev = on_device([&] { return compute_statistics(features.to(dev)); });
  expect_equal_on_cpu(s_cpu.mu, s_dev.mu, "mu", 1e-9);
  expect_equal_on_cpu(s_cpu.sigma, s_dev.sigma, "sigma", 1e-9);

  StatisticsAccumulator acc_cpu, acc_dev;
  acc_cpu.add(features);
  on_device([&] {
    acc_dev.add(features.slice(0, 0, 40).to(dev));
    acc_dev.add(features.slice(0, 40).to(dev));
    return 0;
  });
  expect_equal_on_cpu(acc_cpu.finish().sigma, acc_dev.finish().sigma, "streamed sigma", 1e-9);

  const auto is_cpu = inception_score_from_logits(features, 4, 2020u);
  const auto is_dev = on_device([&] { return inception_score_from_logits(features.to(dev), 4, 2020u); });
  EXPECT_NEAR(is_cpu.mean, is_dev.mean, 1e-9);
  EXPECT_NEAR(is_cpu.std, is_dev.std, 1e-9);

  SwdOptions swd;
  const auto w_cpu = sliced_wasserstein(images_a, images_b, swd);
  const auto w_dev = on_device([&] { return sliced_wasserstein(images_a.to(dev), images_b.to(dev), swd); });
  EXPECT_NEAR(w_cpu.average, w_dev.average, 1e-6 * std::abs(w_cpu.average));

  const auto resized_cpu = preprocess_for_inception(images_a, ResizeMode::pytorch);
  const auto resized_dev = on_device([&] { return preprocess_for_inception(images_a.to(dev), ResizeMode::pytorch); });
  expect_equal_on_cpu(resized_cpu, resized_dev, "pytorch-mode resize", 1e-6);
}

// The whole training loop (data to device, EMA profiles, CM target, optimizer, checkpoints) with
// `device = "privateuseone"` writes the checkpoint a CPU run writes.
TEST_F(SecondDevice, TrainerOnTheDeviceWritesTheCpuCheckpoint) {
  test::TempDir dir;
  auto config = [&](const std::string& device) {
    return "seed = 3\ndevice = \"" + device + "\"\n[net]\npreset = \"cifar10-ddpmpp-tiny\"\ndropout = 0.1\n"
           "[data]\nsource = \"gaussian\"\nchannels = 3\nresolution = 32\n"
           "[method]\nname = \"ect\"\n"
           "[train]\nsteps = 2\nbatch = 4\noptimizer = \"radam\"\nlr = 1e-3\ncheckpoint_every = 2\n"
           "[ema.ema]\nkind = \"halflife\"\nhalflife_images = 100\n";
  };
  auto run = [&](const std::string& device) {
    TrainRequest r;
    r.plan = read_train_plan(Config::from_string(config(device), "<test>"));
    r.out = dir.file(device);
    r.progress = false;
    return train(std::move(r));
  };
  run("cpu");
  on_device([&] { return run("privateuseone"); });
  const auto a = read_checkpoint(dir.file("cpu/ckpt-00000002.h5"));
  const auto b = read_checkpoint(dir.file("privateuseone/ckpt-00000002.h5"));
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (const auto& [group, tensors] : a.groups) {
    const auto& other = b.group(group);
    ASSERT_EQ(tensors.size(), other.size()) << group;
    for (size_t i = 0; i < tensors.size(); ++i) {
      EXPECT_EQ(other[i].second.device(), torch::Device(torch::kCPU));
      expect_equal_on_cpu(tensors[i].second, other[i].second, group + "/" + tensors[i].first, 1e-4);
    }
  }
  // `cmbench sample --device` on the same checkpoint: the images of a CPU run.
  auto sample_on = [&](const std::string& device) {
    SampleRequest r;
    r.ckpt = dir.file("cpu/ckpt-00000002.h5");
    r.out = dir.file("samples-" + device + ".npz");
    r.num = 3;
    r.steps = 2;
    r.raw = true;
    r.progress = false;
    r.device = device;
    sample(r);
    return to_tensor(read_npz(r.out).at("raw"));
  };
  const auto cpu_images = sample_on("cpu");
  const auto device_images = on_device([&] { return sample_on("privateuseone"); });
  expect_equal_on_cpu(cpu_images, device_images, "sampled images", 1e-5);
}

}  // namespace
}  // namespace cmbench
