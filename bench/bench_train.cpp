// One training step (draws, student and replayed target passes, backward, RAdam) of each
// consistency method on the tiny DDPM++ preset at 32x32, and one ECT sampling step: images/s.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "core/config.h"
#include "core/device.h"
#include "core/rng.h"
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

void BM_TrainStep(benchmark::State& state, const std::string& method_name) {
  cmbench::configure_threads();
  const int64_t batch = state.range(0);
  auto net = tiny_unet();
  auto method = cmbench::make_method(cmbench::Config::from_string("name = \"" + method_name + "\"\n"));
  auto optimizer = cmbench::make_optimizer("radam", net->parameters(), cmbench::AdamOptions().lr(1e-4));
  cmbench::TrainingBatch data{torch::rand({batch, 3, 32, 32}) * 2 - 1, {}, {}, {}};
  cmbench::Networks nets{net, nullptr, nullptr};
  int64_t step = 0;
  for (auto _ : state) {
    cmbench::StepContext ctx;
    ctx.step = step;
    ctx.total_steps = 1000;
    ctx.generator = cmbench::make_generator(0, "bench", static_cast<uint64_t>(step++));
    const auto loss = method->step_loss(data, ctx, nets).per_sample.mean();
    for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
    loss.backward();
    optimizer->step();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK_CAPTURE(BM_TrainStep, ect, std::string("ect"))->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, ct, std::string("ct"))->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, edm, std::string("edm"))->Arg(16)->Unit(benchmark::kMillisecond);

void BM_EctSampleStep(benchmark::State& state) {
  cmbench::configure_threads();
  const int64_t batch = state.range(0);
  auto net = tiny_unet();
  const auto denoise = cmbench::make_denoise_fn(*net, {});
  for (auto _ : state) {
    std::vector<torch::Generator> generators;
    for (int64_t i = 0; i < batch; ++i) generators.push_back(cmbench::make_generator(0, "sample", static_cast<uint64_t>(i)));
    const auto z = cmbench::per_image_normal(generators, {3, 32, 32}, torch::kCPU);
    benchmark::DoNotOptimize(cmbench::ect_sample(denoise, z, generators, {80.0}).images);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_EctSampleStep)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
