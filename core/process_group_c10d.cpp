// The multi-process ProcessGroup on LibTorch's c10d: a TCPStore rendezvous, ProcessGroupGloo for CPU
// tensors and barriers, and ProcessGroupNCCL for CUDA tensors. Compiled with USE_C10D_GLOO where CMake
// found Gloo's headers (CMBENCH_HAVE_C10D_GLOO), and USE_C10D_NCCL where it also found a CUDA LibTorch
// and nccl.h (CMBENCH_HAVE_C10D_NCCL).
#include "core/process_group.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/torch_compat.h"

#ifdef CMBENCH_HAVE_C10D_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef CMBENCH_HAVE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
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

class C10dGroup final : public ProcessGroup {
 public:
  C10dGroup(const LaunchEnv& env, const ProcessGroupOptions& options)
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
    // Each backend keys its rendezvous under its own prefix of the one store.
    try {
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store_),
                                                           static_cast<int>(rank_), static_cast<int>(size_), gloo_options);
    } catch (const std::exception& e) {
      throw CheckError(fmt::format("{}: the ranks did not connect through {}:{} within {:g} s: {}", describe(),
                                   env.master_addr, env.port, seconds, short_message(e)));
    }
    open_nccl(options);
  }

  ~C10dGroup() override {
#ifdef CMBENCH_HAVE_C10D_NCCL
    if (nccl_) {
      try {
        compat::shut_down(*nccl_);
      } catch (const std::exception&) {
        // A peer that already failed; the process is ending anyway.
      }
    }
#endif
  }

  int64_t rank() const override { return rank_; }
  int64_t size() const override { return size_; }
  std::string describe() const override { return fmt::format("rank {} of {}", rank_, size_); }
  std::string backend() const override { return has_nccl() ? "gloo+nccl" : "gloo"; }

  void broadcast_from_root(torch::Tensor& tensor) override {
    in_place("broadcast", tensor, [](auto& backend, std::vector<torch::Tensor>& one) { return backend.broadcast(one); });
  }
  void all_reduce_sum(torch::Tensor& tensor) override {
    in_place("all-reduce", tensor, [](auto& backend, std::vector<torch::Tensor>& one) { return backend.allreduce(one); });
  }
  std::vector<torch::Tensor> all_gather(const torch::Tensor& local) override {
    const bool nccl = uses_nccl(local);
    std::vector<torch::Tensor> input{nccl ? local.contiguous() : local.to(torch::kCPU).contiguous()};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (int64_t r = 0; r < size_; ++r) output[0].push_back(torch::empty_like(input[0]));
    on_backend(nccl, "all-gather", [&](auto& backend) { return backend.allgather(output, input); });
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

  bool has_nccl() const {
#ifdef CMBENCH_HAVE_C10D_NCCL
    return static_cast<bool>(nccl_);
#else
    return false;
#endif
  }

  // NCCL is made where it is wanted and can run; its communicators connect at the first CUDA
  // collective, which every rank calls in the same order.
  void open_nccl(const ProcessGroupOptions& options) {
    if (options.cuda == CudaCollectives::gloo) return;
#ifdef CMBENCH_HAVE_C10D_NCCL
    if (torch::cuda::is_available()) {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options.timeout;
      nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", store_),
                                                          static_cast<int>(rank_), static_cast<int>(size_), nccl_options);
      return;
    }
#endif
    if (options.cuda == CudaCollectives::nccl)
      throw InputError(fmt::format("{}: CMBENCH_DIST_BACKEND=nccl, but {}", describe(),
                                   nccl_available() ? "this machine has no CUDA device"
                                                    : "this cmbench was built without NCCL (a CUDA LibTorch and nccl.h; "
                                                      "Debian: apt install libnccl-dev, then configure again)"));
  }

  // NCCL takes this rank's CUDA tensors where it is on; Gloo everything else.
  bool uses_nccl(const torch::Tensor& t) const { return has_nccl() && t.is_cuda(); }

  // Runs `collective(backend)` on NCCL or Gloo and waits for it within the timeout.
  template <class Collective>
  void on_backend(bool nccl, const char* what, Collective collective) {
#ifdef CMBENCH_HAVE_C10D_NCCL
    if (nccl) return guarded(what, [&] { collective(*nccl_)->wait(timeout_); });
#endif
    (void)nccl;
    guarded(what, [&] { collective(*group_)->wait(timeout_); });
  }

  // A collective that works in place on one tensor: staged through a contiguous copy (on the CPU for
  // Gloo) where needed and copied back.
  template <class Collective>
  void in_place(const char* what, torch::Tensor& tensor, Collective collective) {
    const bool nccl = uses_nccl(tensor);
    const bool direct = tensor.is_contiguous() && (nccl || tensor.device().is_cpu());
    std::vector<torch::Tensor> one{direct ? tensor : nccl ? tensor.contiguous() : tensor.to(torch::kCPU).contiguous()};
    on_backend(nccl, what, [&](auto& backend) { return collective(backend, one); });
    if (!direct) tensor.copy_(one[0]);
  }

  int64_t rank_, size_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
#ifdef CMBENCH_HAVE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
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

bool nccl_available() {
#ifdef CMBENCH_HAVE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<ProcessGroup> open_process_group(const LaunchEnv& env, ProcessGroupOptions options) {
  if (!env.distributed()) return single_process();
#ifdef CMBENCH_HAVE_C10D_GLOO
  return std::make_shared<C10dGroup>(env, options);
#else
  (void)options;
  throw InputError(fmt::format("started as {}, but this cmbench was built without multi-process support: install "
                               "Gloo's headers (Debian: apt install libgloo-dev) and configure again",
                               env.describe()));
#endif
}

}  // namespace cmbench
