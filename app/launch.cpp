#include "app/launch.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include "core/error.h"

extern char** environ;

namespace cmbench::cli {

namespace {

int positive_integer(const std::string& text, const std::string& what) {
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || value < 1 || value > 4096)
    throw InputError(fmt::format("{}: '{}' is not a positive process count", what, text));
  return static_cast<int>(value);
}


std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

volatile sig_atomic_t forwarded_signal = 0;
void remember_signal(int signal) { forwarded_signal = signal; }

}  // namespace

std::shared_ptr<ProcessGroup> join_ranks(const LaunchEnv& env) {
  auto group = open_process_group(env, process_group_options_from_env());
  if (!group->is_root() && spdlog::get_level() < spdlog::level::warn) spdlog::set_level(spdlog::level::warn);
  if (group->size() > 1) spdlog::info("{} ranks over {} ({})", group->size(), group->backend(), env.describe());
  return group;
}

std::optional<int> take_nproc_option(std::vector<std::string>& args) {
  std::optional<int> nproc;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--nproc") {
      if (i + 1 >= args.size()) throw InputError("--nproc: needs a process count");
      nproc = positive_integer(args[i + 1], "--nproc");
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      --i;
    } else if (args[i].rfind("--nproc=", 0) == 0) {
      nproc = positive_integer(args[i].substr(8), "--nproc");
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      --i;
    }
  }
  return nproc;
}

int launch_local_workers(const std::vector<std::string>& args, int nproc) {
  const auto outer = read_launch_env();
  if (outer.distributed())
    throw InputError(fmt::format("--nproc {}: this process is already {}; start the ranks with one launcher", nproc,
                                 outer.describe()));
  const double grace = seconds_variable(process_env, "CMBENCH_LAUNCH_GRACE", /*zero_allowed=*/true).value_or(30.0);
  const int port = process_env("MASTER_PORT") ? port_variable(process_env, "MASTER_PORT") : free_local_port();

  // argv: this executable and the command without --nproc.
  std::vector<std::string> argv_storage{"cmbench"};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The parent's environment, less the launcher variables, plus each rank's.
  static const char* kOwned[] = {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="};
  std::vector<std::string> base;
  for (char** e = environ; *e; ++e) {
    bool owned = false;
    for (const char* prefix : kOwned) owned = owned || std::strncmp(*e, prefix, std::strlen(prefix)) == 0;
    if (!owned) base.emplace_back(*e);
  }

  struct sigaction forward{}, old_int{}, old_term{};
  forward.sa_handler = remember_signal;
  sigemptyset(&forward.sa_mask);
  sigaction(SIGINT, &forward, &old_int);
  sigaction(SIGTERM, &forward, &old_term);

  std::map<pid_t, int> ranks;  // running workers
  for (int r = 0; r < nproc; ++r) {
    auto env = base;
    env.push_back(fmt::format("RANK={}", r));
    env.push_back(fmt::format("LOCAL_RANK={}", r));
    env.push_back(fmt::format("WORLD_SIZE={}", nproc));
    env.push_back(fmt::format("LOCAL_WORLD_SIZE={}", nproc));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back(fmt::format("MASTER_PORT={}", port));
    std::vector<char*> envp;
    for (auto& v : env) envp.push_back(v.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data());
    if (rc != 0) {
      for (const auto& [p, rank] : ranks) kill(p, SIGTERM);
      throw InputError(fmt::format("--nproc: could not start rank {}: {}", r, std::strerror(rc)));
    }
    ranks[pid] = r;
  }

  int exit_code = 0;
  bool failed = false;
  std::chrono::steady_clock::time_point deadline;
  bool terminated = false;
  while (!ranks.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0 && ranks.count(pid)) {
      const int rank = ranks[pid];
      ranks.erase(pid);
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && !failed) {
        failed = true;
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(grace * 1000));
        std::fprintf(stderr, "cmbench --nproc %d: rank %d %s; stopping the other %zu rank(s) (within %.0f s)\n", nproc,
                     rank, describe_status(status).c_str(), ranks.size(), grace);
        std::fflush(stderr);
      }
      continue;
    }
    if (forwarded_signal != 0 && !terminated) {
      for (const auto& [p, rank] : ranks) kill(p, forwarded_signal);
      terminated = true;
      if (!failed) {
        failed = true;
        exit_code = 128 + forwarded_signal;
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      }
    }
    if (failed && std::chrono::steady_clock::now() >= deadline) {
      for (const auto& [p, rank] : ranks) {
        std::fprintf(stderr, "cmbench --nproc %d: rank %d did not stop; killing it\n", nproc, rank);
        kill(p, SIGKILL);
      }
      deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return exit_code;
}

}  // namespace cmbench::cli
