// cmbench run | table | compare
#include <filesystem>
#include <iostream>
#include <set>

#include <fmt/format.h>

#include "app/cli.h"
#include "app/launch.h"
#include "core/device.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/launch_env.h"
#include "harness/runner.h"
#include "harness/slurm.h"
#include "harness/suite.h"
#include "harness/suite_plan.h"
#include "results/compare.h"
#include "results/store.h"
#include "results/table.h"

namespace cmbench::cli {

namespace {

namespace fs = std::filesystem;

std::vector<results::StoreContents> read_stores(const std::vector<std::string>& paths) {
  std::vector<results::StoreContents> stores;
  for (const auto& path : paths) stores.push_back(results::read_store(path));
  return stores;
}

void print_suite_table(const Suite& suite, const std::string& store) {
  results::TableInput input;
  input.stores.push_back(results::read_store(store));
  input.store_names.push_back(store);
  input.suite = &suite.record;
  std::cout << results::render_table(input, results::TableFormat::markdown) << std::flush;
}

struct RunOptions {
  std::string suite, out, only, device = "cpu";
  bool resume = false, force = false, dry_run = false;
  bool slurm = false, wait = false;
  SlurmOptions slurm_options;
};

// --slurm: the folder made ready here (as `run` does), one job per stage the store lacks; with
// --dry-run only the scripts, with --wait the table once the jobs have left the queue.
void submit_suite(const Suite& suite, const std::string& suite_path, const std::string& out, const RunOptions& r) {
  if (read_launch_env().distributed())
    throw InputError("--slurm submits the jobs that start the ranks: run it as one process (on a login node)");
  if (!r.only.empty()) throw InputError("--slurm submits every stage; --only is what each job runs");
  validate_suite(suite, r.device);
  auto options = r.slurm_options;
  options.program = fs::read_symlink("/proc/self/exe").string();
  options.device = r.device;
  const auto store = (fs::path(out) / "results.h5").string();
  std::set<std::string> complete;
  if (r.dry_run) {
    if (fs::exists(store) && r.resume) complete = stored_stages(store, suite.name);
    for (const auto& job : plan_slurm_jobs(suite, suite_path, out, options, complete)) {
      std::cout << "# " << job.script_path << (job.after.empty() ? "" : " (after ");
      for (size_t i = 0; i < job.after.size(); ++i) std::cout << (i ? ", " : "") << job.after[i];
      std::cout << (job.after.empty() ? "" : ")") << "\n" << job.script << "\n";
    }
    return;
  }
  SuiteRunRequest request;
  request.out = out;
  request.resume = r.resume;
  request.force = r.force;
  complete = prepare_suite_folder(suite, request);
  auto jobs = plan_slurm_jobs(suite, suite_path, out, options, complete);
  submit_slurm_jobs(jobs);
  for (const auto& job : jobs) {
    std::cout << "submitted " << job.stage << " as job " << job.job_id;
    for (size_t i = 0; i < job.after.size(); ++i) std::cout << (i ? ", " : " after ") << job.after[i];
    std::cout << "\n";
  }
  std::cout << std::flush;
  if (!r.wait) return;
  wait_for_slurm_jobs(jobs);
  const auto stored = stored_stages(store, suite.name);
  for (const auto& job : jobs)
    if (!stored.count(job.stage))
      throw CheckError(fmt::format("{}: stage '{}' (job {}) did not finish; its log: {}", out, job.stage, job.job_id,
                                   (fs::path(out) / "slurm" / (job.stage + "-" + job.job_id + ".log")).string()));
  print_suite_table(suite, store);
}

}  // namespace

void add_suite_commands(CLI::App& app) {
  auto r = std::make_shared<RunOptions>();
  auto* run = app.add_subcommand("run", "train, sample and evaluate a whole suite into an HDF5 store");
  run->add_option("suite", r->suite, "suite file (TOML)")->required();
  run->add_option("--out", r->out, "output folder (default runs/<suite name>/)");
  auto* resume = run->add_flag("--resume", r->resume, "finish what is missing; rerun nothing that finished");
  auto* force = run->add_flag("--force", r->force, "start over in an existing output folder");
  resume->excludes(force);
  run->add_option("--only", r->only, "run one stage (and nothing else)");
  run->add_option("--device", r->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  auto* slurm = run->add_flag("--slurm", r->slurm, "submit each stage as a Slurm job (sbatch; srun starts its ranks)");
  auto& so = r->slurm_options;
  const auto slurm_option = [&](const std::string& name, auto& value, const std::string& help) {
    run->add_option(name, value, help + " (with --slurm)")->needs(slurm);
  };
  slurm_option("--partition", so.partition, "sbatch --partition");
  slurm_option("--account", so.account, "sbatch --account");
  slurm_option("--time", so.time, "sbatch --time limit per stage, e.g. 2-00:00:00");
  slurm_option("--nodes", so.nodes, "nodes per stage");
  slurm_option("--tasks-per-node", so.tasks_per_node, "ranks per node (one GPU each with --gpus-per-node)");
  slurm_option("--gpus-per-node", so.gpus_per_node, "GPUs per node");
  slurm_option("--cpus-per-task", so.cpus_per_task, "CPUs per rank");
  run->add_flag("--wait", r->wait, "wait for the jobs, then print the table (with --slurm)")->needs(slurm);
  run->add_flag("--dry-run", r->dry_run, "print the plan with estimated images and steps");
  on_selected(run, [r] {
    const Suite suite = load_suite(r->suite);
    const std::string out = r->out.empty() ? "runs/" + suite.name : r->out;
    if (!r->only.empty()) {
      bool known = false;
      for (const auto& s : suite.stages) known = known || s.name == r->only;
      if (!known) throw InputError(fmt::format("{}: --only names unknown stage '{}'", r->suite, r->only));
    }
    if (r->slurm) {
      submit_suite(suite, r->suite, out, *r);
      return;
    }
    if (r->dry_run) {
      validate_suite(suite, r->device);
      std::cout << describe_plan(suite, plan_suite_training(suite, r->device), out);
      return;
    }
    const auto env = read_launch_env();
    validate_suite(suite, r->device, env.world_size);  // before the ranks meet: all stop on the same line
    SuiteRunRequest request;
    request.group = join_ranks(env);
    request.out = out;
    request.resume = r->resume;
    request.force = r->force;
    request.only = r->only;
    request.device = env.distributed() ? device_for_rank(r->device, env.local_rank) : r->device;
    const auto store = run_suite(suite, request);
    if (!request.group->is_root()) return;
    print_suite_table(suite, store);
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

  struct PackOptions {
    std::string store, out;
  };
  auto k = std::make_shared<PackOptions>();
  auto* pack = app.add_subcommand("pack", "copy a result store into one self-contained file (runs inside it)");
  pack->add_option("store", k->store, "STORE.h5 (with its STORE.h5.runs folder)")->required();
  pack->add_option("out", k->out, "OUT.h5, e.g. a baseline to commit or a file to share")->required();
  on_selected(pack, [k] {
    const auto contents = results::read_store(k->store);
    results::write_store(k->out, contents);
    std::cout << fmt::format("{}: {} runs, {} suites\n", k->out, contents.runs.size(), contents.suites.size());
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
