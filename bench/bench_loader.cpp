// Loader throughput (images/s) on 32x32 RGB images, with and without flips, from an uncompressed npy
// array (read cost only), an EDM zip of PNGs (PNG decoding on the prefetch thread) and, when it has
// been fetched into the data root, the real CIFAR-10 binary training set.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/device.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "data/cifar10.h"
#include "data/data_root.h"
#include "data/edm_zip_writer.h"
#include "data/image_source.h"
#include "data/loader.h"

namespace {

namespace fs = std::filesystem;

// Fixtures are generated once per process under the temp folder.
const std::string& fixture(const std::string& kind) {
  static const std::string dir = [] {
    const fs::path path = fs::temp_directory_path() / ("cmbench-bench-loader-" + std::to_string(::getpid()));
    fs::create_directories(path);
    auto gen = at::detail::createCPUGenerator(0);
    const auto images = torch::randint(0, 256, {8192, 32, 32, 3}, gen, torch::kInt64).to(torch::kUInt8);
    const auto labels = torch::randint(0, 10, {8192}, gen, torch::kInt64);
    cmbench::write_npy((path / "images.npy").string(), cmbench::from_tensor(images));
    cmbench::write_npz((path / "images.npz").string(), {{"images", cmbench::from_tensor(images)}, {"labels", cmbench::from_tensor(labels)}});
    cmbench::write_edm_zip(*cmbench::open_image_source((path / "images.npz").string()), (path / "images.zip").string(), false);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("cmbench-bench-loader-" + std::to_string(::getpid())), ec);
    });
    return path.string();
  }();
  static std::map<std::string, std::string> paths;
  paths[kind] = kind == "cifar10" ? cmbench::data_root() + ":train" : dir + "/images." + kind;
  return paths[kind];
}

void run_loader(benchmark::State& state, const std::string& kind) {
  cmbench::configure_threads();
  const std::string spec = fixture(kind);
  if (kind == "cifar10" && !fs::exists(cmbench::cifar10::batches_folder(cmbench::data_root()) + "/data_batch_1.bin")) {
    state.SkipWithError("CIFAR-10 not fetched (cmbench data fetch cifar10)");
    return;
  }
  std::shared_ptr<const cmbench::ImageSource> source = cmbench::open_image_source(spec);
  cmbench::LoaderOptions options;
  options.batch_size = 128;
  options.flip = state.range(0) != 0;
  cmbench::DataLoader loader(source, options);
  for (auto _ : state) benchmark::DoNotOptimize(loader.next().images.data_ptr<float>());
  state.SetItemsProcessed(state.iterations() * options.batch_size);
  state.SetLabel(options.flip ? "flips" : "no flips");
}

void BM_LoaderNpy(benchmark::State& state) { run_loader(state, "npy"); }
void BM_LoaderEdmZip(benchmark::State& state) { run_loader(state, "zip"); }
void BM_LoaderCifar10(benchmark::State& state) { run_loader(state, "cifar10"); }
BENCHMARK(BM_LoaderNpy)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoaderEdmZip)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoaderCifar10)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
