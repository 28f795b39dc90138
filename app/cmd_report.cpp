// cmbench report | findings
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "app/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/suite.h"
#include "results/findings.h"
#include "results/report_html.h"
#include "results/store.h"

namespace cmbench::cli {

namespace {

// The stores named on the command line and --suite, whose record (policies, findings) replaces the
// stored one.
struct StoreSelection {
  std::vector<std::string> paths;
  std::string suite_path;

  void add_options(CLI::App* command) {
    command->add_option("stores", paths, "STORE.h5 files")->required();
    command->add_option("--suite", suite_path, "suite file whose findings and policies replace the stored ones");
  }
  std::vector<results::StoreContents> read() const {
    std::vector<results::StoreContents> stores;
    for (const auto& path : paths) stores.push_back(results::read_store(path));
    return stores;
  }
  std::optional<Suite> suite() const {
    if (suite_path.empty()) return std::nullopt;
    return load_suite(suite_path);
  }
};

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

void add_report_commands(CLI::App& app) {
  struct ReportOptions {
    StoreSelection selection;
    std::string out, title;
  };
  auto r = std::make_shared<ReportOptions>();
  auto* report = app.add_subcommand("report", "one self-contained HTML page: tables, metric curves, findings, grids");
  r->selection.add_options(report);
  report->add_option("--out", r->out, "the HTML file to write")->required();
  report->add_option("--title", r->title, "page title (default: the suites' names)");
  on_selected(report, [r] {
    results::ReportInput input;
    input.tables.stores = r->selection.read();
    input.tables.store_names = r->selection.paths;
    input.title = r->title;
    const auto suite = r->selection.suite();
    if (suite) {
      input.tables.suite = &suite->record;
      input.description = suite->description;
    }
    input.findings = results::evaluate_store_findings(input.tables.stores, input.tables.suite);
    const auto page = results::render_report(input);
    atomic_write_bytes(r->out, page.data(), page.size());
    std::cout << fmt::format("{}: report of {} ({} bytes, {} findings)", r->out, joined(r->selection.paths), page.size(),
                             input.findings.size())
              << std::endl;
  });

  struct FindingsOptions {
    StoreSelection selection;
    bool json = false, strict = false;
  };
  auto f = std::make_shared<FindingsOptions>();
  auto* findings = app.add_subcommand("findings", "check a suite's findings on result stores: PASS, FAIL or N/A each");
  f->selection.add_options(findings);
  findings->add_flag("--json", f->json, "print one JSON object");
  findings->add_flag("--strict", f->strict, "exit 1 when a finding fails or is not evaluable");
  on_selected(findings, [f] {
    const auto stores = f->selection.read();
    const auto suite = f->selection.suite();
    const auto checked = results::evaluate_store_findings(stores, suite ? &suite->record : nullptr);
    if (checked.empty()) {
      throw InputError(fmt::format("{}: no findings to check (no [[finding]] in {})", joined(f->selection.paths),
                                   suite ? f->selection.suite_path : "the stored suite records; give --suite SUITE.toml"));
    }
    int64_t failed = 0, not_evaluable = 0;
    for (const auto& result : checked) {
      failed += result.evaluable && !result.passed;
      not_evaluable += !result.evaluable;
    }
    if (f->json) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& result : checked) list.push_back(results::finding_json(result));
      print_json({{"stores", f->selection.paths},
                  {"findings", list},
                  {"passed", static_cast<int64_t>(checked.size()) - failed - not_evaluable},
                  {"failed", failed},
                  {"not_evaluable", not_evaluable}});
    } else {
      for (const auto& result : checked) std::cout << results::finding_line(result) << "\n";
      std::cout << std::flush;
    }
    if (f->strict && failed + not_evaluable > 0) {
      throw CheckError(fmt::format("{}: {} finding(s) failed and {} not evaluable (--strict)",
                                   joined(f->selection.paths), failed, not_evaluable));
    }
  });
}

}  // namespace cmbench::cli
