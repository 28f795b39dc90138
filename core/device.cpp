#include "core/device.h"

#include <cstdlib>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cmbench_version.h"
#include "core/error.h"
#include "core/torch_compat.h"

namespace cmbench {

std::string device_for_rank(const std::string& name, int64_t local_rank) {
  if (name == "cuda" || (name == "auto" && torch::cuda::is_available())) return "cuda:" + std::to_string(local_rank);
  return name;
}

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!compat::built_with_cuda()) {
      throw InputError(fmt::format("device '{}': this cmbench is built against a CPU-only LibTorch {}; build it "
                                   "against a CUDA LibTorch (README, GPU build) or use --device cpu",
                                   name, compat::torch_version()));
    }
    if (!torch::cuda::is_available()) {
      throw InputError(fmt::format("device '{}': LibTorch {} has CUDA but sees no GPU (driver missing, or "
                                   "CUDA_VISIBLE_DEVICES hides every device)", name, compat::torch_version()));
    }
    std::optional<torch::Device> device;
    try {
      device = torch::Device(name);
    } catch (const c10::Error&) {
    }
    if (device) {
      const auto count = static_cast<int64_t>(torch::cuda::device_count());
      if (device->has_index() && device->index() >= count) {
        throw InputError(fmt::format("device '{}': this machine has {} CUDA device{} (cuda:0 to cuda:{})", name, count,
                                     count == 1 ? "" : "s", count - 1));
      }
      return *device;
    }
  }
  // A PrivateUse1 backend registered in this process (the tests' shadow device).
  if (name.rfind("privateuseone", 0) == 0 && c10::impl::hasDeviceGuardImpl(c10::DeviceType::PrivateUse1)) {
    try {
      return torch::Device(name);
    } catch (const c10::Error&) {
    }
  }
  throw InputError(fmt::format("device '{}': expected cpu, cuda, cuda:N or auto", name));
}

int configure_threads(int threads) {
  if (threads <= 0) {
    if (const char* env = std::getenv("CMBENCH_THREADS"); env && *env) threads = std::atoi(env);
  }
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

std::string torch_version() { return compat::torch_version(); }

std::string code_version() { return fmt::format("{} ({})", CMBENCH_VERSION, CMBENCH_GIT_VERSION); }

std::string device_description() {
  if (torch::cuda::is_available()) {
    return fmt::format("cuda ({} device{})", torch::cuda::device_count(), torch::cuda::device_count() == 1 ? "" : "s");
  }
  return fmt::format("cpu ({} threads)", torch::get_num_threads());
}

}  // namespace cmbench
