// What the result store holds (DESIGN.md "Formats", "Result store"): runs with their provenance,
// training curve and evaluation rows; per suite the metric policies (direction, tolerance,
// aggregation over seed sets) and the published reference numbers with their citation.
// Plain data, no HDF5: results/store.h reads and writes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench::results {

struct TrainingPoint {
  int64_t step = 0;
  double loss = 0, grad_norm = 0, lr = 0, images_per_second = 0;
};

struct EvaluationRow {
  int64_t step = 0;  // training step of the evaluated weights
  int64_t nfe = 0;
  std::string metric;  // fid, is_mean, is_std, swd, ...
  double value = 0;
  int64_t num_samples = 0;
  std::string seed_set;   // e.g. "0-49999"
  std::string reference;  // reference statistics used (path or split), "" when none
  std::string detector;   // feature detector used, "" when none
  std::string detector_sha256;    // the detector weights' sha256 ("synthetic:SEED" for those), "" when none
  std::string reference_sha256;   // sha256 of the reference features compared against, "" when none
  std::string protocol_mismatch;  // the protocol differences an allowed mismatch compared across, "" when none
  std::string ema;  // the EMA profile evaluated; "" for the checkpoint's default weights (older stores)
};

// One 8x8 sample grid as PNG bytes, per evaluated NFE.
struct SampleGrid {
  int64_t nfe = 0;
  std::vector<uint8_t> png;
};

struct RunRecord {
  std::string suite, stage, method, dataset, network;
  int64_t parameters = 0;
  std::string config_json;  // the full resolved config
  int64_t seed = 0;
  std::string code_version, torch_version, device;
  int64_t threads = 0;
  std::string start_time, end_time;  // ISO 8601 UTC
  double wall_seconds = 0;
  int64_t images_seen = 0;
  std::vector<TrainingPoint> curve;
  std::vector<EvaluationRow> evaluations;
  std::vector<SampleGrid> grids;
};

// How `compare` and `table` treat one metric.
struct MetricPolicy {
  std::string metric;
  std::string direction = "lower";  // "lower" or "higher" is better
  double rtol = 0, atol = 0;        // a change for the worse beyond atol + rtol*|baseline| regresses
  std::string aggregate = "mean";   // over seed sets: "mean", "min" or "max"
};

// A published number (METHODS.md §9) stored beside our results.
struct ReferenceRow {
  std::string method;  // the stage method it compares with (edm, cd, ct, ict, ect, sct)
  std::string label;   // as the paper names it, e.g. "ECT (bs 128, 200k it)"
  int64_t nfe = 0;
  std::string metric;  // fid
  double value = 0;
  int64_t num_samples = 0;
  std::string citation;
  std::string stage;   // the suite stage it compares with; "" for every stage of `method`
};

// A claim of a paper written as a check on the store's rows (a suite's [[finding]] tables;
// results/findings.h evaluates them). Rows are read at the stage's last evaluated step unless the
// kind reads curves; `ema` "" is the default weights.
//   below:           for each metric, stages[0]'s value < stages[1]'s (times 1 + rtol)
//   decreasing:      for each metric, the values fall strictly along `stages` (in the given order)
//   reaches_first:   images seen until `metric` first gets <= threshold: every stage of `stages` before
//                    every stage of `others` (a stage that never reaches it counts as never)
//   nfe_improves:    for each stage and metric, the value at nfe[1] is better than at nfe[0]
//   curve_not_worse: at every curve step both stages evaluated, stages[0]'s value <= stages[1]'s * (1 + rtol)
// "Better" and "<" follow each metric's direction (a higher-is-better metric reverses them).
struct FindingSpec {
  std::string id, claim, kind;
  std::vector<std::string> stages, others;
  std::vector<std::string> metrics;
  std::vector<int64_t> nfe;  // the NFE rows read (one value; nfe_improves: two)
  double threshold = 0, rtol = 0;
  std::string ema;
  std::string why;  // the suite's note on what the finding tests (printed beside its result)
};

struct SuiteRecord {
  std::string name, dataset;
  std::vector<MetricPolicy> metrics;
  std::vector<ReferenceRow> references;
  std::vector<FindingSpec> findings;
};

struct StoreContents {
  std::vector<RunRecord> runs;      // in append order
  std::vector<SuiteRecord> suites;  // sorted by name
};

// The policy of `metric` in `suite` (a default lower-is-better, zero-tolerance policy when absent).
MetricPolicy policy_for(const SuiteRecord* suite, const std::string& metric);
const SuiteRecord* find_suite(const StoreContents& store, const std::string& name);

}  // namespace cmbench::results
