// cmbench selftest losses | optimizers FILE.npz
#include <cstdio>

#include "app/cli.h"
#include "core/error.h"
#include "harness/selftest_optimizers.h"
#include "methods/selftest_losses.h"

namespace cmbench::cli {

namespace {

// One line per array, then a verdict; exit 1 (CheckError) when any error exceeds the tolerance.
void print_report(const std::string& what, const std::string& file, const SelftestReport& report) {
  for (const auto& c : report.checks)
    std::printf("%-36s %.3e  %s\n", c.key.c_str(), c.error, c.error <= report.tolerance ? "ok" : "FAIL");
  std::printf("%s: %zu arrays, max error %.3e, tolerance %.0e\n", what.c_str(), report.checks.size(),
              report.max_error(), report.tolerance);
  std::fflush(stdout);
  if (!report.passed())
    throw CheckError(file + ": " + what + " selftest failed (max error " + std::to_string(report.max_error()) + ")");
}

}  // namespace

void add_selftest_training(CLI::App& selftest) {
  auto losses_file = std::make_shared<std::string>();
  auto* losses = selftest.add_subcommand("losses", "every training loss on the toy network (losses.npz + .json), 1e-9");
  losses->add_option("file", *losses_file, "FILE.npz with its FILE.json manifest")->required();
  on_selected(losses, [losses_file] { print_report("losses", *losses_file, run_loss_selftest(*losses_file)); });

  auto optimizers_file = std::make_shared<std::string>();
  auto* optimizers = selftest.add_subcommand("optimizers", "RAdam and Adam against PyTorch 1.13, 1e-12");
  optimizers->add_option("file", *optimizers_file, "optimizers.npz")->required();
  on_selected(optimizers, [optimizers_file] {
    print_report("optimizers", *optimizers_file, run_optimizer_selftest(*optimizers_file));
  });
}

}  // namespace cmbench::cli
