// Sliced Wasserstein distance (METRICS.md §5) of two sets of N random uint8 images, Args {N, side}.
// peak_rss_MB is the process's peak resident memory so far (getrusage), inputs included; the
// benchmarks run in ascending order of size, so each reports its own peak. The 50k x 32x32 case is
// the memory check of metrics/README.md (one iteration, about 2 minutes on 2 cores); leave it out
// with --benchmark_filter='SlicedWasserstein/(1000|10000)/'.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include "core/device.h"
#include "metrics/swd.h"

namespace {

double peak_rss_megabytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void BM_SlicedWasserstein(benchmark::State& state) {
  cmbench::configure_threads();
  const int64_t count = state.range(0), side = state.range(1);
  auto gen = at::detail::createCPUGenerator(1);
  const auto images_a = torch::randint(0, 256, {count, side, side, 3}, gen, torch::kUInt8);
  const auto images_b = torch::randint(0, 256, {count, side, side, 3}, gen, torch::kUInt8);
  for (auto _ : state) benchmark::DoNotOptimize(cmbench::sliced_wasserstein(images_a, images_b).average);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(2 * count * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = peak_rss_megabytes();
}
BENCHMARK(BM_SlicedWasserstein)
    ->Args({1000, 32})
    ->Args({1000, 64})
    ->Args({10000, 32})
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK(BM_SlicedWasserstein)->Args({50000, 32})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
