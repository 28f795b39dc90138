// Feature extraction throughput (images/s) for 32x32 inputs in both preprocessing modes, with the
// native FID Inception and synthetic weights (the same arithmetic as the real weights).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "core/device.h"
#include "metrics/detector.h"
#include "metrics/preprocess.h"

namespace {

void BM_Features32(benchmark::State& state, const std::string& mode) {
  cmbench::configure_threads();
  auto detector = cmbench::make_detector(cmbench::DetectorOptions().weights("synthetic:0").mode(mode));
  const int64_t batch = state.range(0);
  auto gen = at::detail::createCPUGenerator(1);
  const auto images = torch::randint(0, 256, {batch, 32, 32, 3}, gen, torch::kUInt8);
  detector->run(images, false);  // warm-up (allocations, oneDNN primitives)
  for (auto _ : state) benchmark::DoNotOptimize(detector->run(images, false).pool3);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_Features32, tf, std::string("tf"))->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Features32, pytorch, std::string("pytorch"))->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Preprocess32(benchmark::State& state) {
  auto gen = at::detail::createCPUGenerator(2);
  const auto images = torch::randint(0, 256, {64, 32, 32, 3}, gen, torch::kUInt8);
  for (auto _ : state) benchmark::DoNotOptimize(cmbench::preprocess_for_inception(images, cmbench::ResizeMode::tf));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(64 * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Preprocess32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
