#include "test_util.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "core/npy.h"

namespace cmbench::test {

std::string vector_path(const std::string& name) { return std::string(CMBENCH_VECTORS_DIR) + "/" + name; }

std::string source_path(const std::string& relative) { return std::string(CMBENCH_SOURCE_DIR) + "/" + relative; }

const std::string& cmbench_binary() {
  static const std::string binary = CMBENCH_BINARY;
  return binary;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cmbench-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string input_error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return {};
}

std::string write_reference_images(const TempDir& dir) {
  std::vector<uint8_t> pixels(16 * 16 * 16 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + i / 768 * 11) % 256);
  const auto path = dir.file("reference.npy");
  write_npy(path, NpyArray::from<uint8_t>({16, 16, 16, 3}, pixels.data()));
  return path;
}

std::string tiny_data_and_net(const std::string& net_lines) {
  return R"(
[data]
source = "gaussian"
channels = 3
resolution = 16

[net]
preset = "cifar10-ddpmpp-tiny"
img_resolution = 16
)" + net_lines;
}

std::string tiny_suite_head(const std::string& name, int seed, const std::string& net_lines) {
  return "[suite]\nname = \"" + name + "\"\nseed = " + std::to_string(seed) + "\n" + tiny_data_and_net(net_lines) + R"(
[train]
batch = 4
log_every = 1
checkpoint_every = 2
)";
}

std::string teacher_then_ect_stages(int teacher_steps, int ect_steps) {
  return "\n[stages.teacher]\nmethod = \"edm\"\nsteps = " + std::to_string(teacher_steps) +
         "\noptions = { preset = \"cifar10\" }\nnfe = [3]\n\n[stages.ect]\nmethod = \"ect\"\ninit = \"teacher\"\nsteps = " +
         std::to_string(ect_steps) + "\noptions = { preset = \"cifar10\" }\n";
}

std::string tiny_swd_evaluation(int num_samples, const std::string& reference, int batch,
                                const std::string& inception_weights) {
  const auto n = std::to_string(num_samples);
  return "\n[evaluation]\nnfe = [1, 2]\nnum_samples = " + n + "\nseed_sets = [\"0-" + std::to_string(num_samples - 1) +
         "\"]\nbatch = " + (batch > 0 ? std::to_string(batch) : n) + R"(

[evaluation.sigmas]
2 = [0.821]

[evaluation.reference]
images = ")" + reference + "\"\n" +
         (inception_weights.empty() ? "" : "weights = \"" + inception_weights + "\"\n") + R"(
[metrics.swd]
rtol = 0.1
)" + (inception_weights.empty() ? "" : "\n[metrics.fid]\nrtol = 0.1\n\n[metrics.is_mean]\nrtol = 0.1\n");
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string parse_suite_head(const std::string& suite_lines, const std::string& evaluation_lines) {
  return "[suite]\n" + suite_lines +
         "\n[data]\nsource = \"gaussian\"\n\n[net]\npreset = \"cifar10-ddpmpp-tiny\"\n\n[train]\nbatch = 8\n\n"
         "[evaluation]\n" +
         evaluation_lines + "\n[evaluation.reference]\nimages = \"cifar10:train\"\n";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

CliProcess start_cli(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& out,
                     const std::string& err) {
  CliProcess process;
  process.out = out;
  process.err = err;
  // Resolved before the fork: the forked child of a multi-threaded parent hung in the static's
  // initialization guard (__cxa_guard_acquire) when it was first read there.
  std::string binary = cmbench_binary();
  process.pid = ::fork();
  if (process.pid < 0) throw std::runtime_error("fork failed");
  if (process.pid == 0) {
    const int in_fd = ::open("/dev/null", O_RDONLY);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    argv.push_back(binary.data());
    std::vector<std::string> copies(args);
    for (auto& a : copies) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return process;
}

int CliProcess::wait() {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  TempDir dir;
  auto process = start_cli(args, env, dir.file("stdout"), dir.file("stderr"));
  CliResult result;
  result.exit_code = process.wait();
  result.out = read_text(process.out);
  result.err = read_text(process.err);
  return result;
}

ShellResult run_shell(const std::string& command) {
  ShellResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string python_importing(const std::string& modules) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("CMBENCH_PYTHON"); env && *env) candidates.push_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  const std::string probe = modules.empty() ? "pass" : "import " + modules;
  for (const auto& python : candidates) {
    if (run_shell(shell_quoted(python) + " -c " + shell_quoted(probe)).exit_code == 0) return python;
  }
  return "";
}

}  // namespace cmbench::test
