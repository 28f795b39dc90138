// cmbench selftest losses | inception | optimizers FILE.npz
#include "app/cli.h"

namespace cmbench::cli {

void add_selftest_commands(CLI::App& app) {
  auto* selftest = app.add_subcommand("selftest", "check this build against reference vectors (exit 1 on mismatch)");
  selftest->require_subcommand(1);
  auto file = std::make_shared<std::string>();

  auto* losses = selftest->add_subcommand("losses", "every training loss on the toy network (losses.npz + .json), 1e-9");
  losses->add_option("file", *file, "FILE.npz with its FILE.json manifest")->required();
  not_implemented(losses, "issue 5, methods");

  auto* inception = selftest->add_subcommand("inception", "FID Inception features with synthetic weights, 1e-4");
  inception->add_option("file", *file, "FILE.npz laid out like inception_synthetic_seed0.npz")->required();
  not_implemented(inception, "issue 6, metrics");

  auto* optimizers = selftest->add_subcommand("optimizers", "RAdam and Adam against PyTorch 1.13, 1e-12");
  optimizers->add_option("file", *file, "optimizers.npz")->required();
  not_implemented(optimizers, "issue 5, methods");
}

}  // namespace cmbench::cli
