#include "harness/runner.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/device.h"
#include "core/error.h"
#include "harness/run_folder.h"
#include "harness/runner_evaluate.h"
#include "harness/trainer.h"
#include "results/store.h"

namespace cmbench {

namespace fs = std::filesystem;

namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

RunFolder stage_folder(const std::string& out, const std::string& stage) {
  return RunFolder((fs::path(out) / "stages" / stage).string());
}

// The trainer config of a stage: the suite's shared tables, the stage's network, EMA profiles,
// data and preconditioning keys, method and train overrides, its budget. The checkpoints of the stages it starts from are named
// here and set when the stage runs (start_from_earlier_stages).
Config stage_config(const Suite& suite, const SuiteStage& stage, const std::string& device) {
  Config config = suite.base;
  if (!stage.net.keys().empty()) config.put("net", stage.net);
  if (!stage.ema.keys().empty()) config.put("ema", stage.ema);
  if (!stage.data.keys().empty()) config.merge("data", stage.data);
  if (!stage.precond.keys().empty()) config.merge("precond", stage.precond);
  config.put("seed", suite.seed);
  config.put("device", device);
  config.put("method", stage.options);
  config.put("method.name", stage.method);
  config.merge("train", stage.train);
  config.put("train.steps", stage.steps);
  config.put("train.batch", stage.batch);
  const auto placeholder = [](const std::string& name) { return fmt::format("<the last checkpoint of stage {}>", name); };
  if (!stage.init.empty()) config.put("train.init", placeholder(stage.init));
  if (!stage.teacher.empty()) config.put("train.teacher", placeholder(stage.teacher));
  return config;
}

void start_from_earlier_stages(TrainPlan& plan, const Suite& suite, const SuiteStage& stage, const std::string& out) {
  const auto checkpoint_of = [&](const std::string& name) {
    const auto ckpt = stage_folder(out, name).latest_checkpoint();
    if (ckpt.empty()) throw InputError(fmt::format("{}: stage '{}' needs stage '{}' finished first", suite.path, stage.name, name));
    return ckpt;
  };
  if (!stage.init.empty()) plan.set_init(checkpoint_of(stage.init));
  if (!stage.teacher.empty()) plan.set_teacher(checkpoint_of(stage.teacher));
}

// One point of a stage's metric curve: trains to `step` unless its checkpoint exists (a resumed run
// re-evaluates kept checkpoints; evaluation is deterministic), then evaluates that checkpoint's
// profiles into a folder of its own, without grids or post-hoc reconstructions.
StageEvaluation evaluate_curve_point(const SuiteStage& stage, const std::vector<EmaPlan>& emas, int64_t step,
                                     TrainRequest& train_request, SuiteReferences& references, const std::string& device) {
  ProcessGroup& group = *train_request.group;
  const RunFolder run_folder(train_request.out);
  const auto ckpt = run_folder.checkpoint(step);
  if (!fs::exists(ckpt)) {
    train_request.stop_after = step;
    train_request.resume = !run_folder.latest_checkpoint().empty();
    spdlog::info("{}: training {} to step {} of {} (metric curve{})", stage.name, stage.method, step, stage.steps,
                 train_request.resume ? ", resuming" : "");
    train(train_request);
  }
  SuiteStage point = stage;
  point.evaluation.grid = false;
  point.evaluation.posthoc_sigma_rel.clear();
  const auto folder = run_folder.curve(step);
  if (group.is_root()) fs::create_directories(folder.path());
  group.barrier();
  spdlog::info("{}: evaluating step {} (metric curve)", stage.name, step);
  return evaluate_stage(point, references, stage_weights(point, emas, ckpt, folder, &group), step, folder, device,
                        train_request.group);
}

}  // namespace

std::vector<TrainPlan> plan_suite_training(const Suite& suite, const std::string& device) {
  std::vector<TrainPlan> plans;
  for (const auto& stage : suite.stages) {
    try {
      plans.push_back(read_train_plan(stage_config(suite, stage, device)));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: stage '{}': {}", stage.where, stage.name, e.what()));
    }
    check_evaluated_profiles(stage, plans.back().emas);  // names the stage itself
  }
  return plans;
}

void validate_suite(const Suite& suite, const std::string& device, int64_t world_size) {
  for (const auto& plan : plan_suite_training(suite, device)) check_batch_splits(plan, world_size);
}

std::set<std::string> prepare_suite_folder(const Suite& suite, const SuiteRunRequest& request) {
  const auto group_handle = request.group ? request.group : single_process();
  ProcessGroup& group = *group_handle;
  const std::string store = (fs::path(request.out) / "results.h5").string();
  // Every rank checks the folder before rank 0 changes it, and sees the changes before going on.
  if (fs::exists(request.out) && !request.resume && !request.force) {
    throw InputError(fmt::format("{}: output folder exists; pass --resume to finish it or --force to start over", request.out));
  }
  group.barrier();
  if (group.is_root()) {
    if (request.force) {
      fs::remove_all(fs::path(request.out) / "stages");
      fs::remove(store);
    }
    fs::create_directories(request.out);
    results::put_suite(store, suite.record);
  }
  group.barrier();
  return stored_stages(store, suite.name);
}

std::set<std::string> stored_stages(const std::string& store, const std::string& suite_name) {
  std::set<std::string> stages;
  for (const auto& run : results::read_store(store).runs)
    if (run.suite == suite_name) stages.insert(run.stage);
  return stages;
}

std::string run_suite(const Suite& suite, const SuiteRunRequest& request) {
  const auto group_handle = request.group ? request.group : single_process();
  ProcessGroup& group = *group_handle;
  auto plans = plan_suite_training(suite, request.device);
  const std::string store = (fs::path(request.out) / "results.h5").string();
  const auto complete = prepare_suite_folder(suite, request);
  // What every stage still to run loads from disk (LPIPS weights), before the first one trains.
  for (size_t index = 0; index < suite.stages.size(); ++index) {
    const auto& stage = suite.stages[index];
    if (complete.count(stage.name) || (!request.only.empty() && stage.name != request.only)) continue;
    try {
      plans[index].method->prepare();
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: stage '{}': {}", stage.where, stage.name, e.what()));
    }
  }
  // Each rank's Inception detector on its own GPU when the run has one ("cuda:LOCAL_RANK"); one set
  // of reference features per distinct [evaluation.reference] (stages may name their own).
  const std::string detector_device = request.device.rfind("cuda", 0) == 0 ? request.device : "auto";
  std::map<std::string, std::unique_ptr<SuiteReferences>> references;
  const auto references_for = [&](const SuiteStage& stage) -> SuiteReferences& {
    auto& slot = references[stage.evaluation.reference_key()];
    if (!slot) slot = std::make_unique<SuiteReferences>(suite, stage.evaluation, detector_device);
    return *slot;
  };
  for (size_t index = 0; index < suite.stages.size(); ++index) {
    const auto& stage = suite.stages[index];
    if (!request.only.empty() && stage.name != request.only) continue;
    if (complete.count(stage.name)) {
      spdlog::info("{}: complete, skipped", stage.name);
      continue;
    }
    const auto run_folder = stage_folder(request.out, stage.name);
    const auto& folder = run_folder.path();
    if (group.is_root()) fs::create_directories(folder);
    const auto start = std::chrono::steady_clock::now();
    const auto start_time = utc_now();

    TrainRequest train_request;
    const auto emas = plans[index].emas;
    train_request.plan = std::move(plans[index]);
    start_from_earlier_stages(train_request.plan, suite, stage, request.out);
    const Config config = train_request.plan.config;
    train_request.out = folder;
    train_request.group = group_handle;
    auto& references = references_for(stage);
    std::vector<results::EvaluationRow> rows;
    for (const int64_t step : curve_steps(stage)) {
      auto point = evaluate_curve_point(stage, emas, step, train_request, references, request.device);
      rows.insert(rows.end(), point.rows.begin(), point.rows.end());
    }
    train_request.stop_after = 0;
    train_request.resume = !run_folder.latest_checkpoint().empty();
    spdlog::info("{}: training {} ({} steps at batch {}{})", stage.name, stage.method, stage.steps, stage.batch,
                 train_request.resume ? ", resuming" : "");
    const auto trained = train(train_request);
    const auto& ckpt = trained.checkpoint;
    const auto weights = stage_weights(stage, emas, ckpt, run_folder, &group);
    auto evaluation = evaluate_stage(stage, references, weights, stage.steps, run_folder, request.device, group_handle);
    rows.insert(rows.end(), evaluation.rows.begin(), evaluation.rows.end());
    if (!group.is_root()) {
      group.barrier();  // rank 0 writes the stage's run
      continue;
    }

    results::RunRecord run;
    run.suite = suite.name;
    run.stage = stage.name;
    run.method = stage.method;
    run.dataset = config.get_or<std::string>("data.source", suite.dataset());
    run.network = config.has("net.preset") ? config.get<std::string>("net.preset") : config.sub("net").to_json().dump();
    run.parameters = trained.parameters;
    run.config_json = config.to_json().dump();
    run.seed = suite.seed;
    run.code_version = code_version();
    run.torch_version = torch_version();
    run.device = device_description() + (group.size() > 1 ? fmt::format(" x {} ranks", group.size()) : "");
    run.threads = torch::get_num_threads();
    run.start_time = start_time;
    run.end_time = utc_now();
    run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.images_seen = trained.images_seen;
    run.curve = trained.curve;
    run.evaluations = std::move(rows);
    run.grids = std::move(evaluation.grids);
    results::append_run(store, run);
    spdlog::info("{}: done (final loss {:.6g})", stage.name, trained.final_loss);
    group.barrier();
  }
  return store;
}

}  // namespace cmbench
