// Fault drills (issue 17.6): `cmbench run` killed with SIGKILL at random moments (inside stages,
// while it writes checkpoints, samples or the store, between stages), then finished with --resume,
// stores what an uninterrupted run stores; a full disk while a checkpoint or the store is written
// leaves the previous file intact and stops with one line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/hdf5.h"
#include "results/store.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
namespace fs = std::filesystem;

namespace {

std::string drill_suite(const std::string& reference) {
  return test::tiny_suite_head("drill", 5) + test::teacher_then_ect_stages(4, 8) +
         test::tiny_swd_evaluation(8, reference);
}

pid_t start_run(const std::string& suite, const std::string& out, bool resume) {
  const pid_t child = fork();
  if (child == 0) {
    setenv("CMBENCH_THREADS", "1", 1);
    setenv("CMBENCH_LOG", "off", 1);
    if (!std::freopen("/dev/null", "w", stdout)) _exit(126);
    const auto& program = test::cmbench_binary();
    if (resume) {
      execl(program.c_str(), program.c_str(), "run", suite.c_str(), "--out", out.c_str(), "--resume",
            static_cast<char*>(nullptr));
    } else {
      execl(program.c_str(), program.c_str(), "run", suite.c_str(), "--out", out.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  return child;
}

// Waits for the child; true when it exited by itself with status 0.
bool finished_cleanly(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

// What must not depend on an interruption: every stored value except timings and timestamps, and
// the output folder (a stage's init checkpoint is named by its path).
void expect_same_store(const results::StoreContents& a, const std::string& a_out, const results::StoreContents& b,
                       const std::string& b_out, const std::string& what) {
  ASSERT_EQ(a.runs.size(), b.runs.size()) << what;
  for (size_t i = 0; i < a.runs.size(); ++i) {
    const auto &x = a.runs[i], &y = b.runs[i];
    EXPECT_EQ(x.stage, y.stage) << what;
    EXPECT_EQ(replaced(x.config_json, a_out, "OUT"), replaced(y.config_json, b_out, "OUT")) << what;
    EXPECT_EQ(x.images_seen, y.images_seen) << what;
    ASSERT_EQ(x.curve.size(), y.curve.size()) << what << " " << x.stage;
    for (size_t k = 0; k < x.curve.size(); ++k) {
      EXPECT_EQ(x.curve[k].step, y.curve[k].step) << what;
      EXPECT_EQ(x.curve[k].loss, y.curve[k].loss) << what << " " << x.stage << " step " << x.curve[k].step;
      EXPECT_EQ(x.curve[k].grad_norm, y.curve[k].grad_norm) << what;
    }
    ASSERT_EQ(x.evaluations.size(), y.evaluations.size()) << what;
    for (size_t k = 0; k < x.evaluations.size(); ++k) {
      EXPECT_EQ(x.evaluations[k].metric, y.evaluations[k].metric) << what;
      EXPECT_EQ(x.evaluations[k].value, y.evaluations[k].value) << what << " " << x.stage;
    }
    ASSERT_EQ(x.grids.size(), y.grids.size()) << what;
    for (size_t k = 0; k < x.grids.size(); ++k) EXPECT_EQ(x.grids[k].png, y.grids[k].png) << what;
  }
  ASSERT_EQ(a.suites.size(), b.suites.size()) << what;
}

// A tmpfs of `bytes` mounted on a fresh folder for the test's lifetime (root only: CI runs as root).
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& folder, size_t bytes) : folder_(folder) {
    fs::create_directories(folder);
    const auto options = "size=" + std::to_string(bytes);
    mounted_ = geteuid() == 0 && mount("tmpfs", folder.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) umount2(folder_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string folder_;
  bool mounted_ = false;
};

// Fills the disk until `write` fails with an InputError; returns its message.
template <class Write>
std::string fill_until_refused(Write&& write) {
  for (int i = 0; i < 10000; ++i) {
    try {
      write(i);
    } catch (const InputError& e) {
      return e.what();
    }
  }
  return "";
}

// No temporary file is left to hold the space.
void expect_no_temporaries(const std::string& folder) {
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

}  // namespace

TEST(FaultDrill, SigkillAtRandomMomentsThenResumeEqualsUninterrupted) {
  test::TempDir dir;
  const auto suite = dir.file("drill.toml");
  test::write_text(suite, drill_suite(test::write_reference_images(dir)));
  const auto whole = dir.file("whole");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(finished_cleanly(start_run(suite, whole, false)));
  const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto expected = results::read_store(whole + "/results.h5");
  ASSERT_EQ(expected.runs.size(), 2u);

  int killed_runs = 0;
  // Kill moments are drawn on this time scale. A fresh run that finished before its kill was faster
  // than the scale (the machine's load changes while ctest runs other tests beside this one), so the
  // scale shrinks after each such miss; a resumed run has only the rest of the work left, and may
  // finish first without saying anything about the scale.
  double scale_seconds = run_seconds;
  for (int seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    const auto out = dir.file("killed-" + std::to_string(seed));
    // Up to two kills per seed, each at a uniform moment of a whole run's time, then a resume that
    // is allowed to finish.
    bool resume = false;
    for (int kill_number = 0; kill_number < 2; ++kill_number) {
      const pid_t child = start_run(suite, out, resume);
      ASSERT_GT(child, 0);
      const auto delay = std::uniform_real_distribution<double>(0.05, 1.0)(rng) * scale_seconds;
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      kill(child, SIGKILL);
      int status = 0;
      waitpid(child, &status, 0);
      if (WIFSIGNALED(status)) {
        ++killed_runs;
      } else if (kill_number == 0) {
        scale_seconds *= 0.7;
      }
      resume = true;
    }
    const pid_t last = start_run(suite, out, true);
    ASSERT_TRUE(finished_cleanly(last)) << "seed " << seed << ": the resumed run failed";
    expect_same_store(expected, whole, results::read_store(out + "/results.h5"), out, "seed " + std::to_string(seed));
  }
  EXPECT_GE(killed_runs, 8) << "most kills landed after the run had finished; the drill tested little";
}

TEST(FaultDrill, FullDiskWhileAppendingKeepsTheStore) {
  test::TempDir dir;
  const auto disk_folder = dir.file("disk");
  SmallDisk disk(disk_folder, 2 << 20);
  if (!disk.mounted()) GTEST_SKIP() << "needs root to mount a small tmpfs (CI runs as root)";
  const auto path = disk_folder + "/results.h5";
  results::append_run(path, test::sample_run("full", "first", "ect"));
  const auto message = fill_until_refused([&](int i) {
    auto run = test::sample_run("full", "big-" + std::to_string(i), "ect");
    for (int s = 0; s < 20000; ++s) run.curve.push_back({s, 1.0 / (s + 1), 0.0, 1e-4, 1.0});
    results::append_run(path, run);
  });
  ASSERT_FALSE(message.empty()) << "a 2 MB disk never filled";
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
  const auto store = results::read_store(path);
  ASSERT_GE(store.runs.size(), 1u);
  EXPECT_EQ(store.runs[0].stage, "first");
  expect_no_temporaries(disk_folder);
}

TEST(FaultDrill, FullDiskWhileWritingACheckpointKeepsThePreviousFile) {
  test::TempDir dir;
  const auto disk_folder = dir.file("disk");
  SmallDisk disk(disk_folder, 4 << 20);
  if (!disk.mounted()) GTEST_SKIP() << "needs root to mount a small tmpfs (CI runs as root)";
  const auto path = disk_folder + "/ckpt.h5";
  const auto write = [&](int64_t floats) {
    h5::write_atomic(path, [&](H5::H5File& file) {
      H5::Group model = h5::require_group(file, "model");
      h5::write_tensor(model, "weight", torch::arange(floats, torch::kFloat32));
    });
  };
  write(1000);
  const auto before = test::read_text(path);
  const auto message = fill_until_refused([&](int) { write(int64_t{2} << 20); });  // 8 MB > the disk
  ASSERT_FALSE(message.empty());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
  EXPECT_EQ(test::read_text(path), before);
  expect_no_temporaries(disk_folder);
}
