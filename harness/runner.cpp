#include "harness/runner.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/device.h"
#include "core/error.h"
#include "harness/networks.h"
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

// Flattens a JSON object into "a.b=value" assignments (values as TOML literals).
void assignments(const nlohmann::json& value, const std::string& prefix, std::vector<std::string>& out) {
  if (value.is_object()) {
    for (const auto& [k, v] : value.items()) assignments(v, prefix.empty() ? k : prefix + "." + k, out);
    return;
  }
  out.push_back(prefix + "=" + value.dump());
}

std::string stage_folder(const std::string& out, const std::string& stage) {
  return (fs::path(out) / "stages" / stage).string();
}

// The trainer config of a stage: the suite's shared tables, the stage's network, EMA profiles,
// method and train overrides, its budget, and the checkpoints of the stages it starts from.
// With `placeholders`, the checkpoints of earlier stages are named, not looked up (validation).
Config stage_config(const Suite& suite, const SuiteStage& stage, const std::string& out, const std::string& device,
                    bool placeholders = false) {
  nlohmann::json merged = suite.base.to_json();
  if (!stage.net.keys().empty()) merged["net"] = stage.net.to_json();
  if (!stage.ema.keys().empty()) merged["ema"] = stage.ema.to_json();
  merged["seed"] = suite.seed;
  merged["device"] = device;
  merged["method"] = stage.options.to_json();
  merged["method"]["name"] = stage.method;
  const nlohmann::json train_overrides = stage.train.to_json();
  for (const auto& [k, v] : train_overrides.items()) merged["train"][k] = v;
  merged["train"]["steps"] = stage.steps;
  merged["train"]["batch"] = stage.batch;
  const auto checkpoint_of = [&](const std::string& name) {
    if (placeholders) return fmt::format("<the last checkpoint of stage {}>", name);
    const auto ckpt = latest_checkpoint(stage_folder(out, name));
    if (ckpt.empty()) throw InputError(fmt::format("{}: stage '{}' needs stage '{}' finished first", suite.path, stage.name, name));
    return ckpt;
  };
  if (!stage.init.empty()) merged["train"]["init"] = checkpoint_of(stage.init);
  if (!stage.teacher.empty()) merged["train"]["teacher"] = checkpoint_of(stage.teacher);
  std::vector<std::string> sets;
  assignments(merged, "", sets);
  Config config;
  config.set_all(sets);
  return config;
}

std::vector<results::TrainingPoint> read_training_log(const std::string& path) {
  std::vector<results::TrainingPoint> curve;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    results::TrainingPoint p;
    char comma;
    if (fields >> p.step >> comma >> p.loss >> comma >> p.grad_norm >> comma >> p.lr >> comma >> p.images_per_second) {
      curve.push_back(p);
    }
  }
  return curve;
}

}  // namespace

void validate_suite(const Suite& suite, const std::string& device) {
  for (const auto& stage : suite.stages) {
    try {
      validate_train_config(stage_config(suite, stage, "", device, /*placeholders=*/true));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: stage '{}': {}", stage.where, stage.name, e.what()));
    }
  }
}

std::string run_suite(const Suite& suite, const SuiteRunRequest& request) {
  validate_suite(suite, request.device);
  const std::string store = (fs::path(request.out) / "results.h5").string();
  if (fs::exists(request.out) && !request.resume && !request.force) {
    throw InputError(fmt::format("{}: output folder exists; pass --resume to finish it or --force to start over", request.out));
  }
  if (request.force) {
    fs::remove_all(fs::path(request.out) / "stages");
    fs::remove(store);
  }
  fs::create_directories(request.out);
  results::put_suite(store, suite.record);

  std::set<std::string> complete;
  for (const auto& run : results::read_store(store).runs) {
    if (run.suite == suite.name) complete.insert(run.stage);
  }
  SuiteReferences references(suite);
  for (const auto& stage : suite.stages) {
    if (!request.only.empty() && stage.name != request.only) continue;
    if (complete.count(stage.name)) {
      spdlog::info("{}: complete, skipped", stage.name);
      continue;
    }
    const auto folder = stage_folder(request.out, stage.name);
    fs::create_directories(folder);
    const auto start = std::chrono::steady_clock::now();
    const auto start_time = utc_now();

    TrainRequest train_request;
    train_request.config = stage_config(suite, stage, request.out, request.device);
    train_request.out = folder;
    train_request.resume = !latest_checkpoint(folder).empty();
    spdlog::info("{}: training {} ({} steps at batch {}{})", stage.name, stage.method, stage.steps, stage.batch,
                 train_request.resume ? ", resuming" : "");
    const auto trained = train(train_request);
    const auto ckpt = latest_checkpoint(folder);
    auto evaluation = evaluate_stage(suite, stage, references, ckpt, stage.steps, folder, request.device);

    results::RunRecord run;
    run.suite = suite.name;
    run.stage = stage.name;
    run.method = stage.method;
    run.dataset = suite.dataset();
    const Config& net = train_request.config;
    run.network = net.has("net.preset") ? net.get<std::string>("net.preset") : net.sub("net").to_json().dump();
    run.parameters = load_checkpoint_network(ckpt, "")->parameter_count();
    run.config_json = train_request.config.to_json().dump();
    run.seed = suite.seed;
    run.code_version = code_version();
    run.torch_version = torch_version();
    run.device = device_description();
    run.threads = torch::get_num_threads();
    run.start_time = start_time;
    run.end_time = utc_now();
    run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.images_seen = stage.steps * stage.batch;
    run.curve = read_training_log((fs::path(folder) / "training_log.csv").string());
    run.evaluations = std::move(evaluation.rows);
    run.grids = std::move(evaluation.grids);
    results::append_run(store, run);
    spdlog::info("{}: done (final loss {:.6g})", stage.name, trained.final_loss);
  }
  return store;
}

}  // namespace cmbench
