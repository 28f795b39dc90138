// Feature extraction throughput (images/s) for 32x32 inputs in both preprocessing modes, with the
// native FID Inception and synthetic weights (the same arithmetic as the real weights); the *Cuda
// benchmark runs the detector on a CUDA device (TF32 off, as for FID) and skips without one.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <exception>

#include "core/device.h"
#include "metrics/detector.h"
#include "metrics/preprocess.h"

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

void BM_Preprocess32(benchmark::State& state) {
  auto gen = at::detail::createCPUGenerator(2);
  const auto images = torch::randint(0, 256, {64, 32, 32, 3}, gen, torch::kUInt8);
  for (auto _ : state) benchmark::DoNotOptimize(cmbench::preprocess_for_inception(images, cmbench::ResizeMode::tf));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(64 * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Preprocess32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
