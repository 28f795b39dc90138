// Small result stores that the results tests write themselves.
#pragma once

#include <string>

#include "results/records.h"

namespace cmbench::test {

// A run of `stage` with a 4-point curve and fid/swd rows at NFE 1 and 2 over two seed sets;
// `shift` is added to every metric value.
inline results::RunRecord sample_run(const std::string& suite, const std::string& stage, const std::string& method,
                                     double shift = 0) {
  results::RunRecord run;
  run.suite = suite;
  run.stage = stage;
  run.method = method;
  run.dataset = "cifar10:train";
  run.network = "ddpmpp-tiny";
  run.parameters = 301251;
  run.config_json = R"({"train":{"steps":40}})";
  run.seed = 7;
  run.code_version = "0.1.0-test";
  run.torch_version = "1.13.1";
  run.device = "cpu (2 threads)";
  run.threads = 2;
  run.start_time = "2024-01-02T03:04:05Z";
  run.end_time = "2024-01-02T03:06:05Z";
  run.wall_seconds = 120.5;
  run.images_seen = 1280;
  for (int i = 1; i <= 4; ++i) run.curve.push_back({i * 10, 1.0 / i, 0.5 * i, 1e-4, 64.0});
  for (int64_t nfe : {1, 2}) {
    for (const char* seeds : {"0-255", "256-511"}) {
      const double offset = seeds[0] == '0' ? 0.0 : 2.0;
      run.evaluations.push_back({40, nfe, "fid", 100.0 / nfe + offset + shift, 256, seeds, "stats/cifar10.npz", "synthetic:1"});
      run.evaluations.push_back({40, nfe, "swd", 0.25 / nfe + shift / 100, 256, seeds, "cifar10:train", ""});
    }
  }
  return run;
}

inline results::SuiteRecord sample_suite(const std::string& name) {
  results::SuiteRecord suite;
  suite.name = name;
  suite.dataset = "cifar10";
  suite.metrics = {{"fid", "lower", 0.05, 0.0, "min"}, {"swd", "lower", 0.1, 0.001, "mean"}};
  suite.references = {{"ect", "ECT (bs 128, 200k it)", 1, "fid", 3.86, 50000, "Geng et al. 2024, ECT, Table 1"},
                      {"ect", "ECT (bs 128, 200k it)", 2, "fid", 2.15, 50000, "Geng et al. 2024, ECT, Table 1"},
                      {"edm", "EDM", 35, "fid", 1.97, 50000, "Karras et al. 2022, EDM, Table 2"}};
  return suite;
}

}  // namespace cmbench::test
