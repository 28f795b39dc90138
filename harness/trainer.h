// The training loop (issue 5, item 5): one method, one network, one optimizer; EMA profiles,
// a CM target network or a CD teacher as the method asks; checkpoints every N steps and at the
// end; --resume continues bit-exactly on CPU; a NaN/Inf loss stops the run and keeps the last
// good checkpoint; a CSV training log beside the checkpoints.
//
// Every random stream is derived from the run seed and the step (core/seed.h): the method's draws
// (stream "method.draw"), the dropout masks (the device's default generator reseeded from
// "dropout" each step), the data order (data/loader.h) and SCT's pool ("method.pool"). A resumed
// run therefore needs no generator state, only the step.
//
// Data parallel (issue 13): the global batch is split evenly over the ranks (rank r: rows
// [r B/W, (r+1) B/W) of the loader's batch); the method draws for the whole global batch and keeps
// its rows, so image i gets the same draws at any world size; gradients are averaged by bucketed
// all-reduce, so every rank takes the same optimizer, target and EMA steps. Dropout masks differ
// with the world size (stream "dropout"/(step * W + rank)).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/process_group.h"
#include "harness/train_plan.h"
#include "results/records.h"

namespace cmbench {

struct TrainRequest {
  TrainPlan plan;      // read_train_plan(config)
  std::string out;     // checkpoint folder (default: train.out of the config, else "runs/train")
  bool resume = false; // continue from the newest checkpoint in `out`
  // Train only up to this step (0: to the plan's steps) and write its checkpoint there. The schedules
  // (learning rate, CT's N(k), EMA, target rate) still read the plan's steps, so a later call with
  // `resume` continues exactly as one call would have (metric curves: harness/runner.h).
  int64_t stop_after = 0;
  bool progress = true;
  // Data-parallel ranks (null: one process). Every rank calls train() with the same plan; rank 0
  // alone writes checkpoints and the training log.
  std::shared_ptr<ProcessGroup> group;
};

struct TrainSummary {
  int64_t start_step = 0, steps = 0;
  int64_t images_seen = 0;  // steps x batch over the whole run, resumed part included
  int64_t parameters = 0;   // of the trained network
  double final_loss = 0;
  double images_per_second = 0;
  std::string checkpoint;  // the last checkpoint written
  std::vector<results::TrainingPoint> curve;  // every logged point, as training_log.csv has it
  nlohmann::json to_json() const;
};

TrainSummary train(const TrainRequest& request);

// InputError unless the plan's global batch splits evenly over `world_size` ranks. Every rank calls
// it before the ranks meet, so all of them stop on the same line without a collective to race.
void check_batch_splits(const TrainPlan& plan, int64_t world_size);

}  // namespace cmbench
