// The communication cost of data-parallel training (issue 13): two Gloo ranks on 127.0.0.1 (two
// threads of this program, one intra-op thread each, as two one-core processes would run), for the
// tiny DDPM++ and the CIFAR-10 DDPM++ (55.7M) at 32x32.
//   BM_AllReduceGradients/<net>: average_gradients (25 MB buckets) over the net's parameter sizes
//     (counter MB: the gradient bytes each rank sends through the all-reduce).
//   BM_DataParallelStep/<net>/<rank batch>: one ECT step per rank (draws, both passes, backward),
//     the all-reduce, RAdam; the counter allreduce_share is the all-reduce's part of the step time.
#include <benchmark/benchmark.h>
#include <torch/torch.h>


#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/config.h"
#include "core/process_group.h"
#include "core/rng.h"
#include "harness/optimizers.h"
#include "methods/registry.h"
#include "nets/factory.h"

namespace {

// The two threads of one benchmark run meet at one port: the first to arrive picks it.
int shared_port() {
  static std::mutex mutex;
  static int port = 0, arrived = 0;
  std::lock_guard<std::mutex> lock(mutex);
  if (arrived == 0) port = cmbench::free_local_port();
  arrived = (arrived + 1) % 2;
  return port;
}

std::shared_ptr<cmbench::ProcessGroup> join(const benchmark::State& state) {
  cmbench::LaunchEnv env;
  env.launcher = cmbench::Launcher::torchrun;
  env.world_size = 2;
  env.rank = env.local_rank = state.thread_index();
  env.port = shared_port();
  return cmbench::open_process_group(env);
}

cmbench::DenoiserPtr network(const std::string& preset) {
  auto net = cmbench::make_network(cmbench::Config::from_string("preset = \"" + preset + "\"\ndropout = 0.0\n"));
  net->train();
  return net;
}

void BM_AllReduceGradients(benchmark::State& state, const std::string& preset) {
  torch::set_num_threads(1);
  const auto group = join(state);
  auto net = network(preset);
  const auto params = net->parameters();
  for (auto& p : params) p.mutable_grad() = torch::ones_like(p);
  int64_t bytes = 0;
  for (const auto& p : params) bytes += p.numel() * static_cast<int64_t>(p.element_size());
  for (auto _ : state) cmbench::average_gradients(*group, params);
  // Counters are per rank (benchmark sums threads unless told to average them).
  state.counters["MB"] = benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kAvgThreads);
}

void BM_DataParallelStep(benchmark::State& state, const std::string& preset) {
  torch::set_num_threads(1);
  const auto group = join(state);
  const int64_t batch = state.range(0);
  auto net = network(preset);
  auto method = cmbench::make_method("ect");
  auto optimizer = cmbench::make_optimizer("radam", net->parameters(), cmbench::AdamOptions().lr(1e-4));
  const auto params = net->parameters();
  cmbench::TrainingBatch data{torch::rand({batch, 3, 32, 32}) * 2 - 1, {}, {}, {}, {}, {}};
  cmbench::Networks nets{net, nullptr, nullptr};
  double allreduce_seconds = 0, step_seconds = 0;
  int64_t step = 0;
  for (auto _ : state) {
    const auto started = std::chrono::steady_clock::now();
    cmbench::StepContext ctx;
    ctx.step = step;
    ctx.total_steps = 1000;
    ctx.global_batch = batch;
    ctx.generator = cmbench::make_generator(0, "bench", static_cast<uint64_t>(step++ * 2 + state.thread_index()));
    auto loss = method->step_loss(data, ctx, nets).per_sample.mean();
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    loss.backward();
    const auto reduce_started = std::chrono::steady_clock::now();
    cmbench::average_gradients(*group, params);
    const auto reduced = std::chrono::steady_clock::now();
    optimizer->step();
    allreduce_seconds += std::chrono::duration<double>(reduced - reduce_started).count();
    step_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  state.SetItemsProcessed(state.iterations() * batch);  // summed over the ranks: the global images/s
  state.counters["allreduce_s"] = benchmark::Counter(
      allreduce_seconds, benchmark::Counter::kAvgIterations | benchmark::Counter::kAvgThreads);
  state.counters["allreduce_share"] =
      benchmark::Counter(step_seconds > 0 ? allreduce_seconds / step_seconds : 0.0, benchmark::Counter::kAvgThreads);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!cmbench::multi_process_available()) {
    std::fprintf(stderr, "bench_distributed: built without c10d Gloo (libgloo-dev); nothing to measure\n");
    return 0;
  }
  for (const auto* preset : {"cifar10-ddpmpp-tiny", "cifar10-ddpmpp"}) {
    const std::string name = preset;
    benchmark::RegisterBenchmark(("BM_AllReduceGradients/" + name).c_str(), BM_AllReduceGradients, name)
        ->Threads(2)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    auto* step = benchmark::RegisterBenchmark(("BM_DataParallelStep/" + name).c_str(), BM_DataParallelStep, name)
                     ->Threads(2)
                     ->UseRealTime()
                     ->Unit(benchmark::kMillisecond)
                     ->Arg(name == "cifar10-ddpmpp" ? 2 : 8);
    if (name == "cifar10-ddpmpp") step->Iterations(3);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
