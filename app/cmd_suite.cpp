// cmbench run | table | compare
#include <iostream>

#include <fmt/format.h>

#include "app/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/launch_env.h"
#include "harness/runner.h"
#include "harness/suite.h"
#include "harness/suite_plan.h"
#include "results/compare.h"
#include "results/store.h"
#include "results/table.h"

namespace cmbench::cli {

namespace {

std::vector<results::StoreContents> read_stores(const std::vector<std::string>& paths) {
  std::vector<results::StoreContents> stores;
  for (const auto& path : paths) stores.push_back(results::read_store(path));
  return stores;
}

}  // namespace

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
  on_selected(run, [r] {
    const Suite suite = load_suite(r->suite);
    const std::string out = r->out.empty() ? "runs/" + suite.name : r->out;
    if (!r->only.empty()) {
      bool known = false;
      for (const auto& s : suite.stages) known = known || s.name == r->only;
      if (!known) throw InputError(fmt::format("{}: --only names unknown stage '{}'", r->suite, r->only));
    }
    if (r->dry_run) {
      validate_suite(suite, r->device);
      std::cout << describe_plan(suite, out);
      return;
    }
    refuse_multi_process(read_launch_env(), "run");
    SuiteRunRequest request;
    request.out = out;
    request.resume = r->resume;
    request.force = r->force;
    request.only = r->only;
    request.device = r->device;
    const auto store = run_suite(suite, request);
    results::TableInput input;
    input.stores.push_back(results::read_store(store));
    input.store_names.push_back(store);
    input.suite = &suite.record;
    std::cout << results::render_table(input, results::TableFormat::markdown) << std::flush;
  });

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
  on_selected(table, [t] {
    results::TableInput input;
    input.stores = read_stores(t->stores);
    input.store_names = t->stores;
    results::SuiteRecord record;
    if (!t->suite.empty()) {
      record = load_suite(t->suite).record;
      input.suite = &record;
    }
    const auto text = results::render_table(input, results::parse_table_format(t->format));
    if (t->out.empty()) {
      std::cout << text << std::flush;
    } else {
      atomic_write_bytes(t->out, text.data(), text.size());
    }
  });

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
  auto* rtol = compare->add_option("--rtol", c->rtol, "relative tolerance for every metric")->check(CLI::NonNegativeNumber);
  compare->add_option("--metric", c->metric, "compare only this metric");
  compare->add_flag("--json", c->json, "print one JSON object");
  on_selected(compare, [c, rtol] {
    const auto baseline = results::read_store(c->baseline);
    const auto current = results::read_store(c->current);
    results::CompareOptions options;
    results::SuiteRecord record;
    if (!c->suite.empty()) {
      record = load_suite(c->suite).record;
      options.suite = &record;
    }
    if (rtol->count() > 0) options.rtol = c->rtol;
    options.metric = c->metric;
    const auto comparison = results::compare_stores(baseline, current, options);
    if (c->json) {
      print_json(results::comparison_json(comparison, c->baseline, c->current));
    } else {
      std::cout << results::comparison_text(comparison) << std::flush;
    }
    if (!comparison.passed()) {
      throw CheckError(fmt::format("{}: {} regression(s) and {} missing row(s) against {}", c->current,
                                   comparison.regressions, comparison.missing, c->baseline));
    }
  });
}

}  // namespace cmbench::cli
