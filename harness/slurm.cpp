#include "harness/slurm.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cmbench {

namespace fs = std::filesystem;

namespace {

// Single quotes for the job script's shell.
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out.append("'\\''");
    else out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

struct CommandOutput {
  int status = 0;
  std::string text;  // stdout and stderr together
};

CommandOutput run_command(const std::string& command) {
  CommandOutput out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw InputError("cannot run: " + command);
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe)) out.text += buffer;
  const int status = ::pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  while (!out.text.empty() && (out.text.back() == '\n' || out.text.back() == '\r')) out.text.pop_back();
  return out;
}

std::string job_name(const Suite& suite, const std::string& stage) { return "cmbench-" + suite.name + "-" + stage; }

}  // namespace

std::vector<SlurmStageJob> plan_slurm_jobs(const Suite& suite, const std::string& suite_path, const std::string& out,
                                           const SlurmOptions& o, const std::set<std::string>& complete) {
  if (o.nodes < 1 || o.tasks_per_node < 1 || o.gpus_per_node < 0 || o.cpus_per_task < 0)
    throw InputError("--slurm: nodes and tasks per node must be positive, GPUs and CPUs per task not negative");
  const auto suite_file = fs::absolute(suite_path).lexically_normal().string();
  const auto folder = fs::absolute(out).lexically_normal();
  std::vector<SlurmStageJob> jobs;
  for (const auto& stage : suite.stages) {
    if (complete.count(stage.name)) continue;
    SlurmStageJob job;
    job.stage = stage.name;
    for (const auto& needed : stage.depends)
      if (!complete.count(needed)) job.after.push_back(needed);
    job.script_path = (folder / "slurm" / (stage.name + ".sbatch")).string();
    std::ostringstream s;
    s << "#!/bin/bash\n"
      << "# cmbench suite " << suite.name << ", stage " << stage.name << " (" << stage.method << ", " << stage.steps
      << " steps); written by cmbench run --slurm\n"
      << "#SBATCH --job-name=" << job_name(suite, stage.name) << "\n"
      << "#SBATCH --nodes=" << o.nodes << "\n"
      << "#SBATCH --ntasks-per-node=" << o.tasks_per_node << "\n";
    if (o.gpus_per_node > 0) s << "#SBATCH --gpus-per-node=" << o.gpus_per_node << "\n";
    if (o.cpus_per_task > 0) s << "#SBATCH --cpus-per-task=" << o.cpus_per_task << "\n";
    if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << "\n";
    if (!o.account.empty()) s << "#SBATCH --account=" << o.account << "\n";
    if (!o.time.empty()) s << "#SBATCH --time=" << o.time << "\n";
    s << "#SBATCH --output=" << (folder / "slurm" / (stage.name + "-%j.log")).string() << "\n"
      << "set -euo pipefail\n"
      << "export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}\n"
      << "# One rank per task; they meet at the first node of the step (SLURM_STEP_NODELIST).\n"
      << "srun --kill-on-bad-exit=1 " << shell_quoted(o.program) << " run " << shell_quoted(suite_file) << " --out "
      << shell_quoted(folder.string()) << " --resume --only " << shell_quoted(stage.name) << " --device " << shell_quoted(o.device)
      << "\n";
    job.script = s.str();
    jobs.push_back(std::move(job));
  }
  return jobs;
}

void submit_slurm_jobs(std::vector<SlurmStageJob>& jobs) {
  std::map<std::string, std::string> ids;
  const auto cancel_submitted = [&] {
    std::string list;
    for (const auto& [stage, id] : ids) list += " " + id;
    if (!list.empty()) run_command("scancel" + list);
  };
  for (auto& job : jobs) {
    fs::create_directories(fs::path(job.script_path).parent_path());
    atomic_write_bytes(job.script_path, job.script.data(), job.script.size());
    std::string command = "sbatch --parsable";
    if (!job.after.empty()) {
      command += " --dependency=afterok";
      for (const auto& stage : job.after) command += ":" + ids.at(stage);
      command += " --kill-on-invalid-dep=yes";
    }
    command.push_back(' ');
    command.append(shell_quoted(job.script_path));
    const auto result = run_command(command);
    const auto id = result.text.substr(0, result.text.find(';'));
    if (result.status != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      cancel_submitted();
      throw InputError(fmt::format("{}: sbatch failed (exit {}): {}", job.script_path, result.status,
                                   result.text.empty() ? "no output" : result.text));
    }
    job.job_id = id;
    ids[job.stage] = id;
  }
}

void wait_for_slurm_jobs(const std::vector<SlurmStageJob>& jobs, double poll_seconds) {
  if (jobs.empty()) return;
  std::string list;
  for (const auto& job : jobs) list += (list.empty() ? "" : ",") + job.job_id;
  while (true) {
    const auto queued = run_command("squeue --noheader --format=%i --jobs=" + list);
    // squeue exits non-zero once none of the ids is known any more on some versions.
    if (queued.status != 0 || queued.text.find_first_of("0123456789") == std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(poll_seconds * 1000)));
  }
}

}  // namespace cmbench
