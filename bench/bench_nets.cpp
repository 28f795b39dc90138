// Training-step throughput of the networks: forward + backward of the preconditioned denoiser,
// images/s. Small presets on the CPU; the full presets when a CUDA device is present.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "core/device.h"
#include "nets/factory.h"

namespace {

void forward_backward(benchmark::State& state, const std::string& preset, int64_t batch, const torch::Device& device,
                      bool channels_last = false) {
  cmbench::configure_threads();
  auto net = cmbench::make_preset_network(preset);
  net->to(device);
  net->set_channels_last(channels_last);
  net->train();
  const auto res = net->img_resolution(), ch = net->img_channels();
  const auto options = torch::TensorOptions().device(device).dtype(torch::kFloat32);
  const auto x = torch::randn({batch, ch, res, res}, options);
  const auto sigma = torch::exp(torch::randn({batch}, options) * 1.2 - 1.2);
  torch::Tensor labels;
  if (net->label_dim())
    labels = torch::nn::functional::one_hot(torch::arange(batch) % net->label_dim(), net->label_dim())
                 .to(options);
  for (auto _ : state) {
    net->zero_grad();
    auto loss = (net->forward(x + sigma.reshape({-1, 1, 1, 1}) * torch::randn_like(x), sigma, labels) - x).square().mean();
    loss.backward();
    if (device.is_cuda()) torch::cuda::synchronize();
    benchmark::DoNotOptimize(loss);
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["params"] = static_cast<double>(net->parameter_count());
}

void BM_TinyDdpmppCpu(benchmark::State& s) { forward_backward(s, "cifar10-ddpmpp-tiny", 32, torch::kCPU); }
void BM_SmallDdpmppCpu(benchmark::State& s) { forward_backward(s, "cifar10-ddpmpp-small", 32, torch::kCPU); }
void BM_TinyEdm2Cpu(benchmark::State& s) { forward_backward(s, "imagenet64-edm2-tiny", 32, torch::kCPU); }
void BM_SmallDdpmppCpuChannelsLast(benchmark::State& s) {
  forward_backward(s, "cifar10-ddpmpp-small", 32, torch::kCPU, true);
}
BENCHMARK(BM_TinyDdpmppCpu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SmallDdpmppCpu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TinyEdm2Cpu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SmallDdpmppCpuChannelsLast)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FullPresetCuda(benchmark::State& s, const std::string& preset, int64_t batch, bool channels_last) {
  if (!torch::cuda::is_available()) {
    s.SkipWithError("no CUDA device");
    for (auto _ : s) {
    }
    return;
  }
  forward_backward(s, preset, batch, torch::Device(torch::kCUDA, 0), channels_last);
}
BENCHMARK_CAPTURE(BM_FullPresetCuda, cifar10_ddpmpp, std::string("cifar10-ddpmpp"), 128, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_FullPresetCuda, cifar10_ddpmpp_nhwc, std::string("cifar10-ddpmpp"), 128, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_FullPresetCuda, imagenet64_adm, std::string("imagenet64-adm"), 32, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_FullPresetCuda, imagenet64_adm_nhwc, std::string("imagenet64-adm"), 32, true)->UseRealTime();
BENCHMARK_CAPTURE(BM_FullPresetCuda, imagenet64_edm2_s, std::string("imagenet64-edm2-s"), 32, false)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
