// Helpers shared by the test programs: paths, temporary folders, running the cmbench binary.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace cmbench::test {

// ../shared/vectors as configured (CMBENCH_VECTORS_DIR), with a file name appended.
std::string vector_path(const std::string& name);
// The checkout (CMBENCH_SOURCE_DIR) with a relative path appended, and the built cmbench binary.
// Only test_util.cpp sees these paths, so the other test sources compile the same in every checkout.
std::string source_path(const std::string& relative);
const std::string& cmbench_binary();

// A fresh empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the built cmbench with `args` (no shell quoting needed), standard input from /dev/null.
CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// The built cmbench started in the background (as run_cli), its output written to out and err.
struct CliProcess {
  int pid = -1;
  std::string out, err;  // paths
  int wait();            // the exit code, or 128 + the signal that ended it
};
CliProcess start_cli(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& out,
                     const std::string& err);

// The message of the cmbench::InputError that `f` throws; a test failure when it throws none.
std::string input_error_message(const std::function<void()>& f);

// `dir`/reference.npy: 16 fixed 16x16 RGB uint8 images (a small suite's SWD reference); its path.
std::string write_reference_images(const TempDir& dir);

// The [data] and [net] tables of the small test runs: Gaussian 16x16 RGB images, the tiny DDPM++.
std::string tiny_data_and_net(const std::string& net_lines = "");  // net_lines: more [net] keys
// A small suite's [suite] (name, seed), those tables and [train] (batch 4, every step logged,
// checkpoints every 2 steps); the stages, evaluation and metrics follow.
std::string tiny_suite_head(const std::string& name, int seed, const std::string& net_lines = "");
// A small suite's [evaluation] (NFE 1 and 2, `num_samples` seeds from 0 in one batch, NFE 2 at
// sigma 0.821) with SWD against the images at `reference`, rtol 0.1.
// `batch` 0: one batch. With `inception_weights` (e.g. "synthetic:0") also FID and IS, the
// reference's Inception features computed from its images.
std::string tiny_swd_evaluation(int num_samples, const std::string& reference, int batch = 0,
                                const std::string& inception_weights = "");
// The head of a suite that a test parses (or runs a step or two of): [suite] with `suite_lines`,
// Gaussian 32x32 data, the tiny DDPM++ at batch 8, [evaluation] with `evaluation_lines` and
// [evaluation.reference] images cifar10:train; the metric policies, stages and findings follow.
std::string parse_suite_head(const std::string& suite_lines, const std::string& evaluation_lines);
// [stages.teacher] (EDM, evaluated at NFE 3) and [stages.ect] (ECT from the teacher), CIFAR-10 presets.
std::string teacher_then_ect_stages(int teacher_steps, int ect_steps);

// A shell command's exit code and its stdout and stderr together (scripts under test).
struct ShellResult {
  int exit_code = -1;
  std::string output;
};
ShellResult run_shell(const std::string& command);
std::string shell_quoted(const std::string& text);  // '...' for sh
// The first python3 that can `import MODULES` ("torch, numpy"; "" for any python): $CMBENCH_PYTHON,
// python3, then Debian's /usr/bin/python3 (where python3-torch and python3-pil install) behind a
// pyenv one; "" when none can. Tests that need it skip, saying why.
std::string python_importing(const std::string& modules);

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);

}  // namespace cmbench::test
