// One training step (draws, student and replayed target passes, backward, RAdam) of every
// registered method, in fp32 and under bf16 autocast, on the tiny DDPM++ preset at 32x32, and one
// ECT sampling step: images/s. The *Cuda benchmarks run every method on the CIFAR-10 DDPM++ preset
// (55.7M) on a CUDA device, in fp32 and under bf16 autocast (train.precision), and skip with a
// message without one. Benchmarks of methods are registered from the method registry in main().
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <exception>
#include <optional>

#include "core/config.h"
#include "core/device.h"
#include "core/rng.h"
#include "core/torch_compat.h"
#include "harness/optimizers.h"
#include "methods/registry.h"
#include "methods/samplers.h"
#include "nets/factory.h"

namespace {

cmbench::DenoiserPtr tiny_unet() {
  auto net = cmbench::make_network(cmbench::Config::from_string("preset = \"cifar10-ddpmpp-tiny\"\ndropout = 0.1\n"));
  net->train();
  return net;
}

// As harness/trainer.cpp steps: the dropout generator of the device reseeded, the method's draws
// from a CPU generator, forward passes under autocast for bf16, backward and RAdam outside it.
void train_steps(benchmark::State& state, const std::string& method_name, cmbench::DenoiserPtr net, bool bf16,
                 const torch::Device& device) {
  const int64_t batch = state.range(0);
  net->to(device);
  net->train();
  auto method = cmbench::make_method(method_name);
  auto optimizer = cmbench::make_optimizer("radam", net->parameters(), cmbench::AdamOptions().lr(1e-4));
  cmbench::TrainingBatch data{(torch::rand({batch, 3, 32, 32}) * 2 - 1).to(device), {}, {}, {}, {}, {}};
  if (const int64_t pool = method->reference_pool_size(batch); pool > 0)
    data.reference_images = (torch::rand({pool, 3, 32, 32}) * 2 - 1).to(device);
  cmbench::Networks nets{net, nullptr, nullptr};
  if (method->needs_target_copy()) nets.target = cmbench::clone_network(*net);
  if (method->needs_teacher()) {
    nets.teacher = cmbench::clone_network(*net);
    nets.teacher->eval();
  }
  int64_t step = 0;
  auto one_step = [&] {
    cmbench::StepContext ctx;
    ctx.step = step;
    ctx.total_steps = 1000;
    ctx.global_batch = batch;
    ctx.generator = cmbench::make_generator(0, "bench", static_cast<uint64_t>(step));
    cmbench::default_generator(device).set_current_seed(static_cast<uint64_t>(step++));
    std::optional<cmbench::compat::AutocastGuard> autocast;
    if (bf16) autocast.emplace(device.type(), torch::kBFloat16);
    auto loss = method->step_loss(data, ctx, nets).per_sample.mean();
    autocast.reset();
    loss = loss.to(torch::kFloat32);
    for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
    loss.backward();
    optimizer->step();
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  if (device.is_cuda()) one_step();  // warm-up: cuDNN and cuBLAS handles, the caching allocator
  for (auto _ : state) one_step();
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_TrainStep(benchmark::State& state, const std::string& method_name, bool bf16) {
  cmbench::configure_threads();
  train_steps(state, method_name, tiny_unet(), bf16, torch::kCPU);
}

void ect_sample_steps(benchmark::State& state, cmbench::Denoiser& net, const torch::Device& device) {
  const int64_t batch = state.range(0);
  const auto denoise = cmbench::make_denoise_fn(net, {});
  auto one_batch = [&] {
    std::vector<torch::Generator> generators;
    for (int64_t i = 0; i < batch; ++i) generators.push_back(cmbench::make_generator(0, "sample", static_cast<uint64_t>(i)));
    const auto z = cmbench::per_image_normal(generators, {3, 32, 32}, device);
    // Moving the images to the CPU waits for the device, as `cmbench sample` does.
    benchmark::DoNotOptimize(cmbench::ect_sample(denoise, z, generators, {80.0}).images.to(torch::kCPU));
  };
  if (device.is_cuda()) one_batch();
  for (auto _ : state) one_batch();
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_EctSampleStep(benchmark::State& state) {
  cmbench::configure_threads();
  auto net = tiny_unet();
  ect_sample_steps(state, *net, torch::kCPU);
}
BENCHMARK(BM_EctSampleStep)->Arg(64)->Unit(benchmark::kMillisecond);

// Runs `body` on CUDA device 0, or skips with the reason (no device, or the error it raised).
template <class Body>
void on_cuda(benchmark::State& state, Body body) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  try {
    cmbench::configure_threads();
    body(torch::Device(torch::kCUDA, 0));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_TrainStepCuda(benchmark::State& state, const std::string& method_name, const std::string& preset, bool bf16) {
  on_cuda(state, [&](const torch::Device& device) {
    train_steps(state, method_name, cmbench::make_preset_network(preset), bf16, device);
  });
}

void BM_EctSampleStepCuda(benchmark::State& state, const std::string& preset) {
  on_cuda(state, [&](const torch::Device& device) {
    auto net = cmbench::make_preset_network(preset);
    net->to(device);
    ect_sample_steps(state, *net, device);
  });
}
BENCHMARK_CAPTURE(BM_EctSampleStepCuda, ddpmpp, std::string("cifar10-ddpmpp"))
    ->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// BM_TrainStep/<method>[_bf16]/16 and BM_TrainStepCuda/<method>_ddpmpp_{fp32,bf16}/128 of every
// registered method (ci/gpu-check picks ECT's by name).
void register_method_benchmarks() {
  for (const auto& name : cmbench::method_registry().names()) {
    for (const bool bf16 : {false, true}) {
      benchmark::RegisterBenchmark(("BM_TrainStep/" + name + (bf16 ? "_bf16" : "")).c_str(),
                                   [name, bf16](benchmark::State& state) { BM_TrainStep(state, name, bf16); })
          ->Arg(16)
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const auto& name : cmbench::method_registry().names()) {
    for (const bool bf16 : {false, true}) {
      benchmark::RegisterBenchmark(("BM_TrainStepCuda/" + name + "_ddpmpp_" + (bf16 ? "bf16" : "fp32")).c_str(),
                                   [name, bf16](benchmark::State& state) {
                                     BM_TrainStepCuda(state, name, "cifar10-ddpmpp", bf16);
                                   })
          ->Arg(128)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_method_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
