// The collectives of core/process_group.h: the one-process group, and two Gloo ranks (two threads of
// this test, meeting on 127.0.0.1) for broadcast, all-reduce, all-gather of uneven rows, bucketed
// gradient averaging, a rendezvous nobody serves and a peer that leaves.
#include <gtest/gtest.h>


#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "core/error.h"
#include "core/process_group.h"

namespace cmbench {
namespace {

LaunchEnv rank_env(int64_t rank, int64_t world, int port) {
  LaunchEnv env;
  env.launcher = Launcher::torchrun;
  env.rank = env.local_rank = rank;
  env.world_size = world;
  env.master_addr = "127.0.0.1";
  env.port = port;
  return env;
}

// Runs body(group) on `world` ranks, one thread each, and rethrows the first failure.
void on_ranks(int64_t world, const std::function<void(ProcessGroup&)>& body, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const int port = free_local_port();
  std::vector<std::future<void>> ranks;
  for (int64_t r = 0; r < world; ++r) {
    ranks.push_back(std::async(std::launch::async, [=] {
      ProcessGroupOptions o;
      o.timeout = timeout;
      auto group = open_process_group(rank_env(r, world, port), o);
      body(*group);
    }));
  }
  for (auto& r : ranks) r.get();
}

TEST(CoreProcessGroup, SingleProcessCollectivesAreTheIdentity) {
  auto group = single_process();
  EXPECT_EQ(group->size(), 1);
  auto x = torch::arange(6, torch::kFloat32).view({3, 2});
  EXPECT_TRUE(torch::equal(all_gather_rows(*group, x), x));
  EXPECT_EQ(mean_over_ranks(*group, 2.5), 2.5);
  auto p = torch::ones({3}, torch::requires_grad());
  p.sum().backward();
  average_gradients(*group, {p});
  EXPECT_TRUE(torch::equal(p.grad(), torch::ones({3})));
  EXPECT_EQ(open_process_group(LaunchEnv{})->size(), 1);
}

TEST(CoreProcessGroup, TwoGlooRanksBroadcastReduceAndGather) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  on_ranks(2, [](ProcessGroup& g) {
    const double r = static_cast<double>(g.rank());
    // broadcast_tensors: rank 0's values everywhere, across several buckets (8-byte buckets).
    std::vector<torch::Tensor> state{torch::full({3}, r + 1.0, torch::kFloat32), torch::full({2, 2}, 10 * r, torch::kFloat64)};
    broadcast_tensors(g, state, /*bucket_bytes=*/8);
    EXPECT_TRUE(torch::equal(state[0], torch::full({3}, 1.0f)));
    EXPECT_TRUE(torch::equal(state[1], torch::zeros({2, 2}, torch::kFloat64)));
    // all_gather_rows: rank 0 has 1 row, rank 1 has 3; rank order.
    const auto local = torch::full({g.rank() == 0 ? 1 : 3, 2}, r, torch::kFloat32);
    const auto all = all_gather_rows(g, local);
    ASSERT_EQ(all.size(0), 4);
    EXPECT_TRUE(torch::equal(all[0], torch::zeros({2})));
    EXPECT_TRUE(torch::equal(all.narrow(0, 1, 3), torch::ones({3, 2})));
    // average_gradients: the mean of the ranks' gradients; a parameter without one counts as zero.
    auto a = torch::zeros({5}, torch::requires_grad()), b = torch::zeros({2}, torch::requires_grad());
    auto unused = torch::zeros({1}, torch::requires_grad());
    ((r + 1.0) * (a.sum() + 2.0 * b.sum())).backward();
    average_gradients(g, {a, unused, b}, /*bucket_bytes=*/12);
    EXPECT_TRUE(torch::allclose(a.grad(), torch::full({5}, 1.5f)));
    EXPECT_TRUE(torch::allclose(b.grad(), torch::full({2}, 3.0f)));
    EXPECT_TRUE(torch::equal(unused.grad(), torch::zeros({1})));
    EXPECT_DOUBLE_EQ(mean_over_ranks(g, r), 0.5);
    // In place on a non-contiguous view: staged through a contiguous copy and written back.
    auto matrix = torch::full({3, 2}, r + 1.0, torch::kFloat64);
    auto column = matrix.t();
    g.all_reduce_sum(column);
    EXPECT_TRUE(torch::equal(matrix, torch::full({3, 2}, 3.0, torch::kFloat64)));
    EXPECT_EQ(g.backend(), nccl_available() && torch::cuda::is_available() ? "gloo+nccl" : "gloo");
    g.barrier();
  });
}

TEST(CoreProcessGroup, AnUnservedRendezvousNamesItsAddress) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  const int port = free_local_port();
  ProcessGroupOptions o;
  o.timeout = std::chrono::seconds(2);
  const auto started = std::chrono::steady_clock::now();
  const auto message = [&] {
    try {
      open_process_group(rank_env(1, 2, port), o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  }();
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << message;
  EXPECT_NE(message.find("rank 1 of 2"), std::string::npos) << message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

TEST(CoreProcessGroup, APeerThatLeavesStopsTheOtherWithinTheTimeout) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  const auto started = std::chrono::steady_clock::now();
  std::string message = "no error";
  on_ranks(
      2,
      [&](ProcessGroup& g) {
        auto x = torch::ones({4});
        g.all_reduce_sum(x);  // both ranks are connected
        if (g.rank() == 1) return;  // leaves without the next collective (its group closes)
        try {
          g.all_reduce_sum(x);
        } catch (const CheckError& e) {
          message = e.what();
        }
      },
      std::chrono::seconds(5));
  EXPECT_NE(message.find("rank 0 of 2: all-reduce failed"), std::string::npos) << message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

TEST(CoreProcessGroup, TimeoutVariableIsChecked) {
  const auto env = [](std::optional<std::string> v) {
    return [v](const std::string& name) { return name == "CMBENCH_DIST_TIMEOUT" ? v : std::nullopt; };
  };
  EXPECT_EQ(process_group_options_from_env(env("2.5")).timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(process_group_options_from_env(env(std::nullopt)).timeout, std::chrono::minutes(10));
  EXPECT_THROW(process_group_options_from_env(env("soon")), InputError);
  EXPECT_THROW(process_group_options_from_env(env("0")), InputError);
}

TEST(CoreProcessGroup, BackendVariableIsChecked) {
  const auto env = [](std::optional<std::string> v) {
    return [v](const std::string& name) { return name == "CMBENCH_DIST_BACKEND" ? v : std::nullopt; };
  };
  EXPECT_EQ(process_group_options_from_env(env(std::nullopt)).cuda, CudaCollectives::automatic);
  EXPECT_EQ(process_group_options_from_env(env("auto")).cuda, CudaCollectives::automatic);
  EXPECT_EQ(process_group_options_from_env(env("nccl")).cuda, CudaCollectives::nccl);
  EXPECT_EQ(process_group_options_from_env(env("gloo")).cuda, CudaCollectives::gloo);
  try {
    process_group_options_from_env(env("mpi"));
    ADD_FAILURE() << "mpi was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("CMBENCH_DIST_BACKEND='mpi'"), std::string::npos) << e.what();
  }
}

// Asking for NCCL where it cannot run stops every rank at the start, saying why.
TEST(CoreProcessGroup, NcclWhereItCannotRunIsRefused) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  if (nccl_available() && torch::cuda::is_available()) GTEST_SKIP() << "NCCL runs here (ci/gpu-check covers it)";
  const int port = free_local_port();
  std::vector<std::future<std::string>> ranks;
  for (int64_t r = 0; r < 2; ++r)
    ranks.push_back(std::async(std::launch::async, [=] {
      ProcessGroupOptions o;
      o.timeout = std::chrono::seconds(20);
      o.cuda = CudaCollectives::nccl;
      try {
        open_process_group(rank_env(r, 2, port), o);
      } catch (const InputError& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    }));
  for (auto& r : ranks) {
    const auto message = r.get();
    EXPECT_NE(message.find("CMBENCH_DIST_BACKEND=nccl, but"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace cmbench
