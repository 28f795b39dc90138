// A process's place in a multi-process job, read once from its launcher's environment (issue 13):
// torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT, else, in a task that srun
// started, Slurm's SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID and the first host of the
// step's (else the job's) node list. Without either (a batch script's own shell included), one
// process. Every malformed value is an InputError naming the variable.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace cmbench {

enum class Launcher { single, torchrun, slurm };

struct LaunchEnv {
  Launcher launcher = Launcher::single;
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int port = 29500;  // torchrun's default; under Slurm without MASTER_PORT, 29500 + SLURM_JOB_ID % 1000
  bool distributed() const { return world_size > 1; }
  std::string describe() const;  // "rank 1 of 2 (torchrun, local rank 1, rendezvous 127.0.0.1:29500)"
};

// The value of an environment variable, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> process_env(const std::string& name);  // std::getenv

LaunchEnv read_launch_env(const EnvLookup& env = process_env);

// The one reader of numeric launcher variables, each an InputError naming the variable and its value:
// an integer >= min (the variable must be set), a TCP port (1-65535), and a number of seconds
// (nullopt when unset; > 0, or >= 0 when zero_allowed).
int64_t integer_variable(const EnvLookup& env, const std::string& name, int64_t min);
int port_variable(const EnvLookup& env, const std::string& name);
std::optional<double> seconds_variable(const EnvLookup& env, const std::string& name, bool zero_allowed);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, released): the
// rendezvous port of `cmbench --nproc` and of tests. InputError when no socket can be bound.
int free_local_port();

// The first host of a Slurm host list: "gpu[07-09,12],cpu1" -> "gpu07", "rack[2-3]-n[01-04]" ->
// "rack2-n01" (zero padding as written). InputError naming `variable` when it does not parse.
std::string first_slurm_host(const std::string& nodelist, const std::string& variable);


}  // namespace cmbench
