// `cmbench run SUITE --slurm` (issue 13): each stage of a suite as one Slurm batch job. A stage's
// job waits (--dependency=afterok) for the jobs of the stages it needs, and its script starts the
// ranks with srun, each running `cmbench run SUITE --out DIR --resume --only STAGE`; the ranks meet
// at the job's first node (core/launch_env.h). Stages already in the store get no job.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "harness/suite.h"

namespace cmbench {

struct SlurmOptions {
  std::string partition, time, account;  // sbatch --partition, --time, --account ("" = the cluster's default)
  int64_t nodes = 1, tasks_per_node = 1;  // ranks = nodes x tasks_per_node
  int64_t gpus_per_node = 0, cpus_per_task = 0;  // 0 = not asked for
  std::string program;  // the cmbench the jobs run (an absolute path)
  std::string device = "cpu";
};

struct SlurmStageJob {
  std::string stage;
  std::vector<std::string> after;  // stages whose jobs must end well first
  std::string script_path;         // OUT/slurm/<stage>.sbatch
  std::string script;
  std::string job_id;  // after submission
};

// The job of every stage not in `complete`, in stage order. `suite_path` and `out` become absolute.
std::vector<SlurmStageJob> plan_slurm_jobs(const Suite& suite, const std::string& suite_path, const std::string& out,
                                           const SlurmOptions& options, const std::set<std::string>& complete);

// Writes each script (atomically) and submits it with `sbatch --parsable`, after the jobs it
// depends on; fills in the job ids. InputError with sbatch's message when a submission fails (the
// jobs submitted before it are cancelled with scancel).
void submit_slurm_jobs(std::vector<SlurmStageJob>& jobs);

// Polls squeue every `poll_seconds` until none of the jobs is queued or running.
void wait_for_slurm_jobs(const std::vector<SlurmStageJob>& jobs, double poll_seconds = 2.0);

}  // namespace cmbench
