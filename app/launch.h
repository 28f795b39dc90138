// `cmbench --nproc N COMMAND ...` (issue 13): starts N local workers of the same command, like
// `torchrun --standalone --nproc_per_node=N cmbench COMMAND ...`. Each worker gets torchrun's
// variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free
// MASTER_PORT unless one is set). When a worker fails or is killed, the launcher says which rank
// and how in one line, gives the others CMBENCH_LAUNCH_GRACE seconds (default 30) to stop on their
// own (their collectives fail), then terminates them; its exit code is the first failure's.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/launch_env.h"
#include "core/process_group.h"

namespace cmbench::cli {

// The value of `--nproc N` / `--nproc=N` among `args` (before a lone "--"), removed from them;
// nullopt without one. InputError when N is not a positive integer.
std::optional<int> take_nproc_option(std::vector<std::string>& args);

// Runs `args` (without the program name) as `nproc` workers of this executable; their exit code.
int launch_local_workers(const std::vector<std::string>& args, int nproc);

// The ranks of the launch environment `env` (one process without a launcher), met at its
// rendezvous within CMBENCH_DIST_TIMEOUT; ranks other than 0 log warnings and errors only.
std::shared_ptr<ProcessGroup> join_ranks(const LaunchEnv& env);

}  // namespace cmbench::cli
