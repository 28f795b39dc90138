// Small result stores that the results tests write themselves.
#pragma once

#include <string>
#include <vector>

#include "results/records.h"

namespace cmbench::test {

// An evaluation row of the weights at step 40, by member name (rows gain provenance columns over time).
inline results::EvaluationRow evaluation_row(int64_t nfe, const std::string& metric, double value, int64_t num_samples,
                                             const std::string& seed_set, const std::string& reference,
                                             const std::string& detector) {
  results::EvaluationRow row;
  row.step = 40;
  row.nfe = nfe;
  row.metric = metric;
  row.value = value;
  row.num_samples = num_samples;
  row.seed_set = seed_set;
  row.reference = reference;
  row.detector = detector;
  return row;
}

// A run of `stage` with a 4-point curve and fid/swd rows at NFE 1 and 2 over two seed sets (FID
// 100/nfe and 2 more on the second; SWD 0.25/nfe on both), or over the first only with
// `seed_sets` 1 (at most 2); `shift` is added to every metric value.
inline results::RunRecord sample_run(const std::string& suite, const std::string& stage, const std::string& method,
                                     double shift = 0, int seed_sets = 2) {
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
    for (int set = 0; set < seed_sets; ++set) {
      const std::string seeds = set == 0 ? "0-255" : "256-511";
      const double offset = 2.0 * set;
      run.evaluations.push_back(
          evaluation_row(nfe, "fid", 100.0 / nfe + offset + shift, 256, seeds, "stats/cifar10.npz", "synthetic:1"));
      run.evaluations.push_back(evaluation_row(nfe, "swd", 0.25 / nfe + shift / 100, 256, seeds, "cifar10:train", ""));
    }
  }
  return run;
}

inline results::SuiteRecord sample_suite(const std::string& name) {
  results::SuiteRecord suite;
  suite.name = name;
  suite.dataset = "cifar10";
  suite.metrics = {{"fid", "lower", 0.05, 0.0, "min"}, {"swd", "lower", 0.1, 0.001, "mean"}};
  suite.references = {{"ect", "ECT (bs 128, 200k it)", 1, "fid", 3.86, 50000, "Geng et al. 2024, ECT, Table 1", ""},
                      {"ect", "ECT (bs 128, 200k it)", 2, "fid", 2.15, 50000, "Geng et al. 2024, ECT, Table 1", ""},
                      {"edm", "EDM", 35, "fid", 1.97, 50000, "Karras et al. 2022, EDM, Table 2", ""}};
  return suite;
}

// EDM's three 50k-sample FID seed sets (METRICS.md §3).
inline const std::vector<std::string> kPaperSeedSets = {"0-49999", "50000-99999", "100000-149999"};

// Appends one 50k-sample evaluation row of `metric` at `nfe` per value, the i-th on the i-th paper seed set.
inline void add_seed_set_rows(results::RunRecord& run, int64_t nfe, const std::string& metric,
                              const std::vector<double>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    run.evaluations.push_back(
        evaluation_row(nfe, metric, values[i], 50000, kPaperSeedSets.at(i), "stats/cifar10.npz", "synthetic:1"));
  }
}

// sample_run's provenance with FID and IS at `nfe` over as many seed sets as values are given.
inline results::RunRecord seed_set_run(const std::string& suite, const std::string& stage, const std::string& method,
                                       int64_t nfe, const std::vector<double>& fid,
                                       const std::vector<double>& is_mean) {
  auto run = sample_run(suite, stage, method);
  run.evaluations.clear();
  add_seed_set_rows(run, nfe, "fid", fid);
  add_seed_set_rows(run, nfe, "is_mean", is_mean);
  return run;
}

// sample_suite with the Inception Score's policy: higher is better, the mean over seed sets.
inline results::SuiteRecord seed_set_suite(const std::string& name) {
  auto suite = sample_suite(name);
  suite.metrics.push_back({"is_mean", "higher", 0.02, 0.0, "mean"});
  return suite;
}

}  // namespace cmbench::test
