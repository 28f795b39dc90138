// cmbench selftest inception FILE.npz
#include "app/cli.h"

namespace cmbench::cli {

void add_selftest_inception(CLI::App& selftest) {
  auto file = std::make_shared<std::string>();
  auto* inception = selftest.add_subcommand("inception", "FID Inception features with synthetic weights, 1e-4");
  inception->add_option("file", *file, "FILE.npz laid out like inception_synthetic_seed0.npz")->required();
  not_implemented(inception, "issue 6, metrics");
}

}  // namespace cmbench::cli
