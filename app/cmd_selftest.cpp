// cmbench selftest losses | inception | optimizers FILE.npz
// The group lives here; each check is registered by the file of the module that owns it.
#include "app/cli.h"

namespace cmbench::cli {

void add_selftest_inception(CLI::App& selftest);  // cmd_selftest_inception.cpp (metrics)
void add_selftest_training(CLI::App& selftest);   // cmd_selftest_training.cpp (methods, optimizers)

void add_selftest_commands(CLI::App& app) {
  auto* selftest = app.add_subcommand("selftest", "check this build against reference vectors (exit 1 on mismatch)");
  selftest->require_subcommand(1);
  add_selftest_training(*selftest);
  add_selftest_inception(*selftest);
}

}  // namespace cmbench::cli
