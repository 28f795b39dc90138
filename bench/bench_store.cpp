// The HDF5 result store at scale (issue 17.5): appending N runs of realistic size to a fresh store,
// then reading it back. A run holds a 400k-step training curve logged every 100 steps (4000 points),
// 100 evaluation rows, two 12 KB sample grids and a 4 KB resolved config. Counters: the first and the
// last append, the mean append, the read of the whole store, and its size on disk (index and run files).
//   build/bench/bench_store --benchmark_filter='BM_StoreAppend/(10|100)$'
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "results/store.h"

namespace {

namespace fs = std::filesystem;
using cmbench::results::RunRecord;

RunRecord realistic_run(int64_t index) {
  RunRecord run;
  run.suite = "scale";
  run.stage = "stage" + std::to_string(index);
  run.method = "ect";
  run.dataset = "cifar10:train";
  run.network = "cifar10-ddpmpp";
  run.parameters = 55734275;
  run.config_json = "{\"padding\":\"" + std::string(4000, 'x') + "\"}";
  run.seed = index;
  run.code_version = "0.1.0-bench";
  run.torch_version = "1.13.1";
  run.device = "cpu (2 threads)";
  run.threads = 2;
  run.start_time = "2026-12-03T00:00:00Z";
  run.end_time = "2026-12-03T01:00:00Z";
  run.wall_seconds = 3600;
  run.images_seen = 400000 * 128;
  for (int64_t step = 100; step <= 400000; step += 100) {
    run.curve.push_back({step, 1.0 / static_cast<double>(step), 0.5, 1e-4, 1000.0});
  }
  for (int64_t i = 0; i < 100; ++i) {
    cmbench::results::EvaluationRow row;
    row.step = 400000;
    row.nfe = 1 + i % 2;
    row.metric = "metric" + std::to_string(i / 6);
    row.value = static_cast<double>(i);
    row.num_samples = 50000;
    row.seed_set = std::to_string(i % 3 * 50000) + "-" + std::to_string(i % 3 * 50000 + 49999);
    row.reference = "cifar10:train";
    row.detector = "inception-tf";
    row.detector_sha256 = std::string(64, 'a');
    row.reference_sha256 = std::string(64, 'b');
    run.evaluations.push_back(row);
  }
  for (int64_t nfe : {1, 2}) {
    cmbench::results::SampleGrid grid;
    grid.nfe = nfe;
    grid.png.resize(12 * 1024);
    for (size_t i = 0; i < grid.png.size(); ++i) grid.png[i] = static_cast<uint8_t>((i * 2654435761u + nfe) >> 13);
    run.grids.push_back(grid);
  }
  return run;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_StoreAppend(benchmark::State& state) {
  const int64_t runs = state.range(0);
  const char* tmp = std::getenv("TMPDIR");
  const fs::path dir = fs::path(tmp ? tmp : "/tmp") / ("cmbench-bench-store-" + std::to_string(runs));
  double first = 0, last = 0, total = 0, read = 0;
  uintmax_t bytes = 0;
  for (auto _ : state) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const auto store = (dir / "results.h5").string();
    const auto run = realistic_run(0);
    for (int64_t i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      cmbench::results::append_run(store, run);
      const double took = seconds_since(start);
      if (i == 0) first = took;
      last = took;
      total += took;
    }
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(cmbench::results::read_store(store).runs.size());
    read = seconds_since(start);
    bytes = 0;  // the index and its run files
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file()) bytes += entry.file_size();
  }
  fs::remove_all(dir);
  state.counters["append_first_ms"] = first * 1e3;
  state.counters["append_last_ms"] = last * 1e3;
  state.counters["append_mean_ms"] = total / static_cast<double>(runs) * 1e3 / static_cast<double>(state.iterations());
  state.counters["read_ms"] = read * 1e3;
  state.counters["store_MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_StoreAppend)->Arg(10)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
