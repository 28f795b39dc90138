// A trainer config read once, at the edge, into typed values (issue 12, item 3): every key checked
// and every default set in one place (core/config_reader.h). `cmbench train` reads its file into a
// plan; a suite reads every stage's plan before the first stage trains and hands each to the
// trainer as a value, filling in the checkpoints of earlier stages when they exist.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/ema.h"
#include "harness/lr_schedule.h"
#include "harness/optimizers.h"
#include "methods/method.h"
#include "nets/precond.h"

namespace cmbench {

// The `data` table: a dataset (`source` spec, flip, subset) or, with source = "gaussian", synthetic
// isotropic Gaussian data (mean, std, channels, resolution) drawn from stream "data.gaussian"/step.
struct DataPlan {
  std::string source;
  bool flip = false;
  int64_t subset = 0;
  double mean = 0.0, std = 0.5;
  int64_t channels = 2, resolution = 1;
};

// One EMA profile: its checkpoint group is /ema for name "ema", else /ema.<name>.
struct EmaPlan {
  std::string name;
  EmaOptions options;
};

struct TrainPlan {
  Config config;  // the config the plan was read from; stored, resolved, in every checkpoint
  uint64_t seed = 0;
  std::string device;  // as written ("auto", "cpu", "cuda:0"); resolved when training starts
  std::unique_ptr<Method> method;
  nlohmann::json net;  // the resolved network config (nets/factory.h)
  PrecondConfig precond;
  DataPlan data;
  std::vector<EmaPlan> emas;
  int64_t steps = 0, batch = 0;
  std::string optimizer;
  AdamOptions adam;
  LrSchedule lr_schedule;
  double grad_clip = 0.0;
  std::string precision;  // fp32 | bf16
  bool channels_last = false;
  int64_t checkpoint_every = 0, log_every = 100;
  std::string init, init_group, teacher, teacher_group, out;

  // The checkpoints a run starts from (train.init, train.teacher), set in the plan and its config.
  void set_init(const std::string& checkpoint);
  void set_teacher(const std::string& checkpoint);
};

// InputError naming the file, line and key for an unknown key, a wrong type, a bad method option,
// network, lr schedule or EMA profile, or a method that needs a teacher without one.
TrainPlan read_train_plan(const Config& config);

}  // namespace cmbench
