// cmbench selftest inception FILE.npz
#include <iostream>

#include <fmt/format.h>

#include "app/cli.h"
#include "core/error.h"
#include "metrics/selftest_inception.h"

namespace cmbench::cli {

void add_selftest_inception(CLI::App& selftest) {
  auto file = std::make_shared<std::string>();
  auto* inception = selftest.add_subcommand("inception", "FID Inception features with synthetic weights, 1e-4");
  inception->add_option("file", *file, "FILE.npz laid out like inception_synthetic_seed0.npz")->required();
  on_selected(inception, [file] {
    const auto entries = run_inception_selftest(*file);
    std::string worst;
    double worst_error = 0;
    for (const auto& e : entries) {
      const bool ok = e.error <= kInceptionSelftestTolerance;
      std::cout << fmt::format("{:<36} error {:.3e}  {}", e.name, e.error, ok ? "ok" : "FAIL") << std::endl;
      if (e.error > worst_error || !(e.error == e.error)) {
        worst_error = e.error;
        worst = e.name;
      }
    }
    if (!(worst_error <= kInceptionSelftestTolerance)) {
      throw CheckError(fmt::format("{}: '{}' differs by {:.3e} (tolerance {:.0e})", *file, worst, worst_error,
                                   kInceptionSelftestTolerance));
    }
    std::cout << fmt::format("selftest inception: {} arrays within {:.0e}", entries.size(), kInceptionSelftestTolerance)
              << std::endl;
  });
}

}  // namespace cmbench::cli
