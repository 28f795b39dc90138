// Fréchet distance at the FID feature width (D = 2048) and a smaller width, float64.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "core/device.h"
#include "metrics/frechet.h"

namespace {

torch::Tensor random_covariance(int64_t d, int64_t n, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto x = torch::randn({n, d}, gen, torch::kFloat64);
  return torch::matmul(x.t(), x) / static_cast<double>(n - 1);
}

void BM_FrechetDistance(benchmark::State& state) {
  cmbench::configure_threads();
  const int64_t d = state.range(0);
  const auto s1 = random_covariance(d, 2 * d, 1);
  const auto s2 = random_covariance(d, 2 * d, 2);
  const auto mu1 = torch::zeros({d}, torch::kFloat64);
  const auto mu2 = torch::ones({d}, torch::kFloat64);
  for (auto _ : state) benchmark::DoNotOptimize(cmbench::frechet_distance(mu1, s1, mu2, s2));
}
BENCHMARK(BM_FrechetDistance)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
