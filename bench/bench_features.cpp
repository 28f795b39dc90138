// Feature extraction throughput (images/s) of every feature network for 32x32 inputs: the native
// FID Inception in both preprocessing modes (pool3 alone, and with sFID's spatial features), DINOv2
// ViT-L/14 (FD_DINOv2, resized to 224), all with synthetic weights (the same arithmetic as the real
// ones), and NVIDIA's TorchScript detectors when their files are given ($CMBENCH_INCEPTION for a
// .pt, $CMBENCH_VGG16; skipped, saying so, without them). The *Cuda benchmarks run on a CUDA device
// (TF32 off, as for FID) and skip without one.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <exception>

#include <cstdlib>
#include <string>

#include "core/device.h"
#include "metrics/detector.h"
#include "metrics/dinov2_detector.h"
#include "metrics/preprocess.h"
#include "metrics/vgg16_detector.h"

namespace {

// pool3 features of uint8 32x32 images; the detector returns them on the CPU, so each batch
// includes the wait for the device.
void features32(benchmark::State& state, const std::string& mode, const std::string& device) {
  cmbench::configure_threads();
  auto detector = cmbench::make_detector(cmbench::DetectorOptions().weights("synthetic:0").mode(mode).device(device));
  const int64_t batch = state.range(0);
  auto gen = at::detail::createCPUGenerator(1);
  const auto images = torch::randint(0, 256, {batch, 32, 32, 3}, gen, torch::kUInt8);
  detector->run(images, false);  // warm-up (allocations, oneDNN primitives, cuDNN handles)
  for (auto _ : state) benchmark::DoNotOptimize(detector->run(images, false).pool3);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch * state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Features32(benchmark::State& state, const std::string& mode) { features32(state, mode, "cpu"); }
BENCHMARK_CAPTURE(BM_Features32, tf, std::string("tf"))->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Features32, pytorch, std::string("pytorch"))->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Features32Cuda(benchmark::State& state, const std::string& mode) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  try {
    features32(state, mode, "cuda");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK_CAPTURE(BM_Features32Cuda, tf, std::string("tf"))->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

torch::Tensor images32(int64_t batch) {
  auto gen = at::detail::createCPUGenerator(1);
  return torch::randint(0, 256, {batch, 32, 32, 3}, gen, torch::kUInt8);
}

void rate(benchmark::State& state, int64_t batch) {
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch * state.iterations()), benchmark::Counter::kIsRate);
}

// The Inception pass with sFID's spatial features beside pool3 (what `sfid` and a suite with sfid run).
void BM_Features32Spatial(benchmark::State& state) {
  cmbench::configure_threads();
  auto detector = cmbench::make_detector(cmbench::DetectorOptions().weights("synthetic:0"));
  const auto images = images32(state.range(0));
  detector->run(images, cmbench::InceptionLayers{false, true});
  for (auto _ : state) benchmark::DoNotOptimize(detector->run(images, cmbench::InceptionLayers{false, true}).spatial);
  rate(state, state.range(0));
}
BENCHMARK(BM_Features32Spatial)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

void dinov2_features32(benchmark::State& state, const std::string& device) {
  cmbench::configure_threads();
  auto detector = cmbench::make_dinov2_detector(cmbench::Dinov2DetectorOptions().weights("synthetic:0").device(device));
  const auto images = images32(state.range(0));
  detector->run(images);
  for (auto _ : state) benchmark::DoNotOptimize(detector->run(images));
  rate(state, state.range(0));
}

void BM_Dinov2Features32(benchmark::State& state) { dinov2_features32(state, "cpu"); }
BENCHMARK(BM_Dinov2Features32)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Dinov2Features32Cuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  try {
    dinov2_features32(state, "cuda");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Dinov2Features32Cuda)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();

// A TorchScript network given by an environment variable, on the CPU or a GPU.
void torchscript_features32(benchmark::State& state, const char* variable, bool vgg16, const std::string& device) {
  const char* path = std::getenv(variable);
  if (!path || !*path) {
    state.SkipWithError((std::string(variable) + " is not set (the TorchScript file is not shipped)").c_str());
    return;
  }
  if (device != "cpu" && !torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  try {
    cmbench::configure_threads();
    const auto images = images32(state.range(0));
    if (vgg16) {
      auto detector = cmbench::make_vgg16_detector(cmbench::Vgg16DetectorOptions().weights(path).device(device));
      detector->run(images);
      for (auto _ : state) benchmark::DoNotOptimize(detector->run(images));
    } else {
      auto detector = cmbench::make_detector(cmbench::DetectorOptions().weights(path).device(device));
      detector->run(images, false);
      for (auto _ : state) benchmark::DoNotOptimize(detector->run(images, false).pool3);
    }
    rate(state, state.range(0));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK_CAPTURE(torchscript_features32, inception, "CMBENCH_INCEPTION", false, std::string("cpu"))
    ->Name("BM_TorchScriptInception32")->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(torchscript_features32, vgg16, "CMBENCH_VGG16", true, std::string("cpu"))
    ->Name("BM_Vgg16Features32")->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(torchscript_features32, vgg16_cuda, "CMBENCH_VGG16", true, std::string("cuda"))
    ->Name("BM_Vgg16Features32Cuda")->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Preprocess32(benchmark::State& state) {
  auto gen = at::detail::createCPUGenerator(2);
  const auto images = torch::randint(0, 256, {64, 32, 32, 3}, gen, torch::kUInt8);
  for (auto _ : state) benchmark::DoNotOptimize(cmbench::preprocess_for_inception(images, cmbench::ResizeMode::tf));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(64 * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Preprocess32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
