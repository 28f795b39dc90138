#include "harness/selftest_optimizers.h"

#include <filesystem>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "harness/optimizers.h"

namespace cmbench {

SelftestReport run_optimizer_selftest(const std::string& npz_path, double tolerance) {
  if (!std::filesystem::exists(npz_path)) throw InputError(npz_path + ": no such file");
  const auto arrays = read_npz(npz_path);
  auto get = [&](const std::string& key) {
    auto it = arrays.find(key);
    if (it == arrays.end()) throw InputError(npz_path + ": missing key '" + key + "'");
    return to_tensor(it->second).to(torch::kFloat64);
  };
  const auto param0 = get("param0");
  const auto grads = get("grads");
  if (grads.dim() != 2 || grads.size(1) != param0.numel())
    throw InputError(npz_path + ": grads must be (steps, " + std::to_string(param0.numel()) + ")");
  const auto options = AdamOptions()
                           .lr(get("lr").item<double>())
                           .beta1(get("beta1").item<double>())
                           .beta2(get("beta2").item<double>())
                           .eps(get("eps").item<double>());

  SelftestReport report;
  report.tolerance = tolerance;
  for (const std::string name : {"radam", "adam"}) {
    const auto want = get(name + "_params");
    if (want.sizes() != grads.sizes()) throw InputError(npz_path + ": " + name + "_params must match grads' shape");
    auto param = param0.clone().set_requires_grad(true);
    auto optimizer = make_optimizer(name, {param}, options);
    std::vector<double> got;
    for (int64_t i = 0; i < grads.size(0); ++i) {
      param.mutable_grad() = grads[i].clone();
      optimizer->step();
      const auto p = param.detach().contiguous();
      got.insert(got.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    }
    const auto w = want.contiguous();
    report.checks.push_back(
        {name + "_params", relative_error(got, std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel()))});
  }
  return report;
}

}  // namespace cmbench
