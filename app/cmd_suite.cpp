// cmbench run | table | compare
#include "app/cli.h"

namespace cmbench::cli {

void add_suite_commands(CLI::App& app) {
  struct RunOptions {
    std::string suite, out, only, device = "cpu";
    bool resume = false, force = false, dry_run = false;
  };
  auto r = std::make_shared<RunOptions>();
  auto* run = app.add_subcommand("run", "train, sample and evaluate a whole suite into an HDF5 store");
  run->add_option("suite", r->suite, "suite file (TOML)")->required();
  run->add_option("--out", r->out, "output folder (default runs/<suite name>/)");
  auto* resume = run->add_flag("--resume", r->resume, "finish what is missing; rerun nothing that finished");
  auto* force = run->add_flag("--force", r->force, "start over in an existing output folder");
  resume->excludes(force);
  run->add_option("--only", r->only, "run one stage (and nothing else)");
  run->add_option("--device", r->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  run->add_flag("--dry-run", r->dry_run, "print the plan with estimated images and steps");
  not_implemented(run, "issue 7, suites");

  struct TableOptions {
    std::vector<std::string> stores;
    std::string suite, format = "md", out;
  };
  auto t = std::make_shared<TableOptions>();
  auto* table = app.add_subcommand("table", "comparison tables from result stores");
  table->add_option("stores", t->stores, "STORE.h5 files")->required();
  table->add_option("--suite", t->suite, "suite file for published reference rows");
  table->add_option("--format", t->format, "md, latex, csv or html")->check(CLI::IsMember({"md", "latex", "csv", "html"}));
  table->add_option("--out", t->out, "output file (default stdout)");
  not_implemented(table, "issue 7, suites");

  struct CompareOptions {
    std::string baseline, current, suite, metric;
    double rtol = 0;
    bool json = false;
  };
  auto c = std::make_shared<CompareOptions>();
  auto* compare = app.add_subcommand("compare", "regression gate: exit 1 when a metric got worse beyond tolerance");
  compare->add_option("baseline", c->baseline, "BASELINE.h5")->required();
  compare->add_option("current", c->current, "CURRENT.h5")->required();
  compare->add_option("--suite", c->suite, "suite file whose tolerances override the store's");
  compare->add_option("--rtol", c->rtol, "relative tolerance for every metric")->check(CLI::NonNegativeNumber);
  compare->add_option("--metric", c->metric, "compare only this metric");
  compare->add_flag("--json", c->json, "print one JSON object");
  not_implemented(compare, "issue 7, suites");
}

}  // namespace cmbench::cli
