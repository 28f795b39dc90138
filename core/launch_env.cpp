#include "core/launch_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {

const char* launcher_name(Launcher launcher) {
  switch (launcher) {
    case Launcher::torchrun: return "torchrun";
    case Launcher::slurm: return "slurm";
    default: return "single process";
  }
}

}  // namespace

int64_t integer_variable(const EnvLookup& env, const std::string& name, int64_t min) {
  const auto text = env(name);
  if (!text) throw InputError(fmt::format("environment: {} is not set", name));
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text->empty() || used != text->size() || value < min)
    throw InputError(fmt::format("environment: {}='{}' is not an integer >= {}", name, *text, min));
  return value;
}

int port_variable(const EnvLookup& env, const std::string& name) {
  const auto port = integer_variable(env, name, 1);
  if (port > 65535) throw InputError(fmt::format("environment: {}='{}' is not a TCP port (1-65535)", name, port));
  return static_cast<int>(port);
}

std::optional<double> seconds_variable(const EnvLookup& env, const std::string& name, bool zero_allowed) {
  const auto text = env(name);
  if (!text) return std::nullopt;
  size_t used = 0;
  double seconds = 0;
  try {
    seconds = std::stod(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text->empty() || used != text->size() || !std::isfinite(seconds) || seconds < 0 || (seconds == 0 && !zero_allowed))
    throw InputError(fmt::format("environment: {}='{}' is not a {} number of seconds", name, *text,
                                 zero_allowed ? "non-negative" : "positive"));
  return seconds;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

std::string LaunchEnv::describe() const {
  return fmt::format("rank {} of {} ({}, local rank {}, rendezvous {}:{})", rank, world_size, launcher_name(launcher),
                     local_rank, master_addr, port);
}

std::string first_slurm_host(const std::string& nodelist, const std::string& variable) {
  const auto bad = [&](const std::string& why) {
    return InputError(fmt::format("environment: {}='{}' is not a Slurm host list ({})", variable, nodelist, why));
  };
  std::string host;
  size_t i = 0;
  while (i < nodelist.size() && nodelist[i] != ',') {
    if (nodelist[i] != '[') {
      if (nodelist[i] == ']') throw bad("']' without '['");
      host += nodelist[i++];
      continue;
    }
    const size_t close = nodelist.find(']', i);
    if (close == std::string::npos) throw bad("'[' without ']'");
    // The first number of the first range: "[07-09,12]" -> "07".
    size_t end = i + 1;
    while (end < close && std::isdigit(static_cast<unsigned char>(nodelist[end]))) ++end;
    if (end == i + 1) throw bad("a range must start with a number");
    host += nodelist.substr(i + 1, end - i - 1);
    i = close + 1;
  }
  if (host.empty()) throw bad("no host");
  return host;
}

LaunchEnv read_launch_env(const EnvLookup& env) {
  LaunchEnv out;
  if (env("WORLD_SIZE")) {
    out.launcher = Launcher::torchrun;
    out.world_size = integer_variable(env, "WORLD_SIZE", 1);
    out.rank = integer_variable(env, "RANK", 0);
    out.local_rank = env("LOCAL_RANK") ? integer_variable(env, "LOCAL_RANK", 0) : out.rank;
    if (const auto addr = env("MASTER_ADDR")) out.master_addr = *addr;
    else if (out.world_size > 1) throw InputError("environment: MASTER_ADDR is not set (WORLD_SIZE > 1)");
    if (env("MASTER_PORT")) out.port = port_variable(env, "MASTER_PORT");
    else if (out.world_size > 1) throw InputError("environment: MASTER_PORT is not set (WORLD_SIZE > 1)");
  } else if (env("SLURM_STEP_NUM_TASKS")) {
    // A task of an srun step (srun sets SLURM_STEP_NUM_TASKS; a batch script's own shell, which
    // also sees SLURM_NTASKS and SLURM_PROCID, is one process).
    out.launcher = Launcher::slurm;
    out.world_size = integer_variable(env, "SLURM_STEP_NUM_TASKS", 1);
    out.rank = integer_variable(env, "SLURM_PROCID", 0);
    out.local_rank = env("SLURM_LOCALID") ? integer_variable(env, "SLURM_LOCALID", 0) : 0;
    if (const auto addr = env("MASTER_ADDR")) {
      out.master_addr = *addr;
    } else {
      const char* list = env("SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST" : "SLURM_JOB_NODELIST";
      if (const auto nodes = env(list)) out.master_addr = first_slurm_host(*nodes, list);
      else if (out.world_size > 1) throw InputError("environment: SLURM_JOB_NODELIST is not set (SLURM_STEP_NUM_TASKS > 1)");
    }
    if (env("MASTER_PORT")) out.port = port_variable(env, "MASTER_PORT");
    else if (env("SLURM_JOB_ID")) out.port = static_cast<int>(29500 + integer_variable(env, "SLURM_JOB_ID", 0) % 1000);
  }
  const bool slurm = out.launcher == Launcher::slurm;
  if (out.rank >= out.world_size)
    throw InputError(fmt::format("environment: {}={} is not below {}={}", slurm ? "SLURM_PROCID" : "RANK", out.rank,
                                 slurm ? "SLURM_STEP_NUM_TASKS" : "WORLD_SIZE", out.world_size));
  if (out.local_rank > out.rank)
    throw InputError(fmt::format("environment: {}={} is above {}={}", slurm ? "SLURM_LOCALID" : "LOCAL_RANK",
                                 out.local_rank, slurm ? "SLURM_PROCID" : "RANK", out.rank));
  return out;
}

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw InputError(std::string("cannot open a TCP socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string why = std::strerror(errno);
    close(fd);
    throw InputError("no free TCP port on 127.0.0.1: " + why);
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace cmbench
