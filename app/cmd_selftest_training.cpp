// cmbench selftest losses | optimizers FILE.npz
#include "app/cli.h"

namespace cmbench::cli {

void add_selftest_training(CLI::App& selftest) {
  auto file = std::make_shared<std::string>();
  auto* losses = selftest.add_subcommand("losses", "every training loss on the toy network (losses.npz + .json), 1e-9");
  losses->add_option("file", *file, "FILE.npz with its FILE.json manifest")->required();
  not_implemented(losses, "issue 5, methods");

  auto* optimizers = selftest.add_subcommand("optimizers", "RAdam and Adam against PyTorch 1.13, 1e-12");
  optimizers->add_option("file", *file, "optimizers.npz")->required();
  not_implemented(optimizers, "issue 5, methods");
}

}  // namespace cmbench::cli
