// The multi-process ProcessGroup on LibTorch's c10d: a TCPStore rendezvous and ProcessGroupGloo.
// Compiled with USE_C10D_GLOO where CMake found Gloo's headers (CMBENCH_HAVE_C10D_GLOO).
#include "core/process_group.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/torch_compat.h"

#ifdef CMBENCH_HAVE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace cmbench {

namespace {

#ifdef CMBENCH_HAVE_C10D_GLOO

// The first line of an exception's message, without c10's backtrace.
std::string short_message(const std::exception& e) {
  std::string text = e.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) text = c10_error->what_without_backtrace();
  const auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline);
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

class GlooGroup final : public ProcessGroup {
 public:
  GlooGroup(const LaunchEnv& env, const ProcessGroupOptions& options)
      : rank_(env.rank), size_(env.world_size), timeout_(options.timeout) {
    const double seconds = std::chrono::duration<double>(options.timeout).count();
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(env.world_size);
    store_options.timeout = options.timeout;
    compat::use_classic_tcp_store(store_options);
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    } catch (const std::exception& e) {
      throw InputError(fmt::format("{}: could not {} the rendezvous at {}:{} within {:g} s (MASTER_ADDR, MASTER_PORT): {}",
                                   describe(), env.rank == 0 ? "serve" : "reach", env.master_addr, env.port, seconds,
                                   short_message(e)));
    }
    auto gloo_options = c10d::ProcessGroupGloo::Options::create();
    gloo_options->timeout = options.timeout;
    // GLOO_SOCKET_IFNAME names the interface, as for torch.distributed; on one machine, loopback.
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    else if (is_loopback(env.master_addr))
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    try {
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, static_cast<int>(rank_), static_cast<int>(size_),
                                                           gloo_options);
    } catch (const std::exception& e) {
      throw CheckError(fmt::format("{}: the ranks did not connect through {}:{} within {:g} s: {}", describe(),
                                   env.master_addr, env.port, seconds, short_message(e)));
    }
  }

  int64_t rank() const override { return rank_; }
  int64_t size() const override { return size_; }
  std::string describe() const override { return fmt::format("rank {} of {}", rank_, size_); }

  void broadcast_from_root(std::vector<torch::Tensor>& tensors) override {
    run("broadcast", tensors, [&](std::vector<torch::Tensor>& cpu) { return group_->broadcast(cpu); });
  }
  void all_reduce_sum(std::vector<torch::Tensor>& tensors) override {
    run("all-reduce", tensors, [&](std::vector<torch::Tensor>& cpu) { return group_->allreduce(cpu); });
  }
  std::vector<torch::Tensor> all_gather(const torch::Tensor& local) override {
    std::vector<torch::Tensor> input{local.to(torch::kCPU).contiguous()};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (int64_t r = 0; r < size_; ++r) output[0].push_back(torch::empty_like(input[0]));
    guarded("all-gather", [&] { group_->allgather(output, input)->wait(timeout_); });
    for (auto& t : output[0]) t = t.to(local.device());
    return output[0];
  }
  void barrier() override {
    guarded("barrier", [&] { group_->barrier()->wait(timeout_); });
  }

 private:
  template <class Body>
  void guarded(const char* what, Body body) {
    try {
      body();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw CheckError(fmt::format("{}: {} failed (another rank stopped, or did not answer within {:g} s): {}",
                                   describe(), what, std::chrono::duration<double>(timeout_).count(), short_message(e)));
    }
  }

  // Gloo runs on CPU tensors: others are staged through the CPU and copied back.
  template <class Collective>
  void run(const char* what, std::vector<torch::Tensor>& tensors, Collective collective) {
    std::vector<torch::Tensor> cpu;
    for (const auto& t : tensors) cpu.push_back(t.device().is_cpu() && t.is_contiguous() ? t : t.to(torch::kCPU).contiguous());
    guarded(what, [&] { collective(cpu)->wait(timeout_); });
    for (size_t i = 0; i < tensors.size(); ++i)
      if (!cpu[i].is_same(tensors[i])) tensors[i].copy_(cpu[i]);
  }

  int64_t rank_, size_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

#endif

}  // namespace

bool multi_process_available() {
#ifdef CMBENCH_HAVE_C10D_GLOO
  return true;
#else
  return false;
#endif
}

std::shared_ptr<ProcessGroup> open_process_group(const LaunchEnv& env, ProcessGroupOptions options) {
  if (!env.distributed()) return single_process();
#ifdef CMBENCH_HAVE_C10D_GLOO
  return std::make_shared<GlooGroup>(env, options);
#else
  (void)options;
  throw InputError(fmt::format("started as {}, but this cmbench was built without multi-process support: install "
                               "Gloo's headers (Debian: apt install libgloo-dev) and configure again",
                               env.describe()));
#endif
}

}  // namespace cmbench
