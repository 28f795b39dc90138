// Statistics files (metrics/statistics.h read_statistics: .npz with mu, sigma, n, meta; sFID's mu_s
// and sigma_s) and the checks a Fréchet distance runs on them first (metrics/frechet.h).
#include "fuzz/util.h"
#include "metrics/frechet.h"
#include "metrics/statistics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbench::fuzz::init_once();
  if (size > cmbench::fuzz::kMaxInputBytes) return 0;
  const auto path = cmbench::fuzz::write_input(data, size, "X.npz");
  (void)cmbench::is_statistics_file(path);
  for (const auto& [mu, sigma] : {std::pair{"mu", "sigma"}, std::pair{"mu_s", "sigma_s"}}) {
    cmbench::fuzz::expect_contract([&, mu = mu, sigma = sigma] {
      const auto stats = cmbench::read_statistics(path, mu, sigma);
      (void)cmbench::frechet_distance(stats, path, stats, path);
    });
  }
  return 0;
}
