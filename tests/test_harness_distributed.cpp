// Data-parallel training (issue 13, item 2), shown through the command line: `cmbench --nproc 2 train`
// (two Gloo ranks on 127.0.0.1) against `cmbench train` at the same global batch, for every method;
// a rank killed with SIGKILL, a rank that hangs, --resume after the kill (bit-exact at the same world
// size, close at another), and a rendezvous nobody serves.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/process_group.h"
#include "harness/run_folder.h"
#include "results/store.h"
#include "methods/registry.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;

// 2-D Gaussian data and a small MLP without dropout (dropout masks are drawn per rank), global batch 64.
// (ECT's and SCT's stage_steps: long runs take --set method.stage_steps=...; 3 channels where PNGs are compared.)
std::string toy_config(const std::string& method, int64_t steps, int64_t checkpoint_every, int channels = 2) {
  const auto c = std::to_string(channels);
  return "seed = 11\ndevice = \"cpu\"\n"
         "[method]\nname = \"" + method + "\"\n" +
         (method == "ect" || method == "sct" ? "stage_steps = 10\n" : "") +
         "[net]\narch = \"mlp\"\nimg_channels = " + c + "\nimg_resolution = 1\nhidden = 64\nlayers = 2\ndropout = 0.0\n"
         "[data]\nsource = \"gaussian\"\nmean = 0.3\nstd = 0.5\nchannels = " + c + "\nresolution = 1\n"
         "[train]\nsteps = " + std::to_string(steps) + "\nbatch = 64\noptimizer = \"radam\"\nlr = 1e-3\n"
         "checkpoint_every = " + std::to_string(checkpoint_every) + "\nlog_every = 1\n"
         "[ema.ema]\nkind = \"fixed\"\nbeta = 0.99\n";
}

std::vector<results::TrainingPoint> read_log(const std::string& folder) {
  const auto path = RunFolder(folder).training_log();
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<results::TrainingPoint> points;
  while (std::getline(in, line)) points.push_back(parse_training_log_line(line, path));
  return points;
}

// All tensors of a checkpoint group, flattened and concatenated (float64).
torch::Tensor flat_group(const std::string& checkpoint, const std::string& group, const std::string& prefix = "") {
  std::vector<torch::Tensor> parts;
  const auto file = read_checkpoint(checkpoint, {group});
  for (const auto& [name, t] : file.group(group))
    if (name.rfind(prefix, 0) == 0 && t.is_floating_point()) parts.push_back(t.reshape({-1}).to(torch::kFloat64));
  return torch::cat(parts);
}

double relative(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-300);
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

struct Trained {
  std::string config, teacher;
};

// A config file for `method` (with a 1-process EDM teacher for the methods that need one).
Trained write_config(const test::TempDir& dir, const std::string& method, int64_t steps, int64_t checkpoint_every,
                     int channels = 2) {
  Trained t;
  t.config = dir.file(method + ".toml");
  test::write_text(t.config, toy_config(method, steps, checkpoint_every, channels));
  if (make_method(Config::from_string(toy_config(method, steps, 0), "<test>").sub("method"))->needs_teacher()) {
    const auto teacher_config = dir.file("teacher.toml");
    if (!fs::exists(dir.file("teacher/ckpt-00000004.h5"))) {
      test::write_text(teacher_config, toy_config("edm", 4, 0));
      EXPECT_EQ(test::run_cli({"train", "--config", teacher_config, "--out", dir.file("teacher")}).exit_code, 0);
    }
    t.teacher = dir.file("teacher/ckpt-00000004.h5");
  }
  return t;
}

std::vector<std::string> train_args(const Trained& t, const std::string& out, int nproc, std::vector<std::string> more = {}) {
  std::vector<std::string> args;
  if (nproc > 1) args = {"--nproc", std::to_string(nproc)};
  args.insert(args.end(), {"train", "--config", t.config, "--out", out});
  if (!t.teacher.empty()) args.insert(args.end(), {"--set", "train.teacher=\"" + t.teacher + "\""});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Step 1: the logged (rank-mean) loss and gradient norm, and Adam's first moment after one step
// ((1 - beta1) g exactly), equal the one-process run to 1e-6 relative (measured: at most 5e-8); 20
// steps stay within 1e-5 in every logged loss and 1e-6 in the weights (measured: 6e-7 and 3e-9).
TEST(DataParallel, TwoRanksMatchOneProcessForEveryMethod) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  for (const auto& method : method_registry().names()) {
    SCOPED_TRACE(method);
    const auto t = write_config(dir, method, 20, 1);
    const auto one = test::run_cli(train_args(t, dir.file(method + "-1"), 1));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto two = test::run_cli(train_args(t, dir.file(method + "-2"), 2));
    ASSERT_EQ(two.exit_code, 0) << two.err;
    EXPECT_EQ(std::count(two.out.begin(), two.out.end(), '{'), 1) << "only rank 0 prints the summary";

    const auto log1 = read_log(dir.file(method + "-1")), log2 = read_log(dir.file(method + "-2"));
    ASSERT_EQ(log1.size(), 20u);
    ASSERT_EQ(log2.size(), 20u);
    EXPECT_LE(relative(log2[0].loss, log1[0].loss), 1e-6);
    EXPECT_LE(relative(log2[0].grad_norm, log1[0].grad_norm), 1e-6);
    const auto step1 = "/ckpt-00000001.h5";
    EXPECT_LE(relative(flat_group(dir.file(method + "-2") + step1, "optimizer", "exp_avg."),
                       flat_group(dir.file(method + "-1") + step1, "optimizer", "exp_avg.")),
              1e-6);
    EXPECT_LE(relative(flat_group(dir.file(method + "-2") + step1, "model"), flat_group(dir.file(method + "-1") + step1, "model")),
              1e-6);
    // 20 steps: the float sums of two half-batch means drift from one batch mean by rounding only.
    double worst_loss = 0;
    for (size_t i = 0; i < log1.size(); ++i) worst_loss = std::max(worst_loss, relative(log2[i].loss, log1[i].loss));
    const auto last = "/ckpt-00000020.h5";
    const double weights = relative(flat_group(dir.file(method + "-2") + last, "model"), flat_group(dir.file(method + "-1") + last, "model"));
    EXPECT_LE(worst_loss, 1e-5);
    EXPECT_LE(weights, 1e-6);
    std::printf("%-4s step 1 loss %.2e; 20 steps: worst loss %.2e, weights %.2e (relative)\n", method.c_str(),
                relative(log2[0].loss, log1[0].loss), worst_loss, weights);
  }
}

// A launcher started in the background (with MASTER_PORT set, so the test can find its ranks).
test::CliProcess start(const std::vector<std::string>& args, const std::vector<std::string>& env, const test::TempDir& dir,
                       const std::string& name) {
  return test::start_cli(args, env, dir.file(name + ".out"), dir.file(name + ".err"));
}

// The pid of the rank `rank` whose environment has MASTER_PORT=`port`; -1 when none (yet).
pid_t find_rank(int port, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const auto env = "\0" + text.str();
    if (env.find(std::string("MASTER_PORT=") + std::to_string(port) + '\0') != std::string::npos &&
        env.find(std::string("\0RANK=", 6) + std::to_string(rank) + '\0') != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// SIGKILL of rank 1 mid-run: the launcher names the rank and signal, rank 0 stops with one line,
// every checkpoint left is whole, and --resume on 2 ranks ends bit-exact with an unbroken 2-rank run;
// --resume on 1 process also finishes (the data order is a function of the global step).
TEST(DataParallel, KilledRankStopsTheRunAndResumeIsBitExact) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto t = write_config(dir, "ect", 400, 20);
  const std::vector<std::string> long_stages{"--set", "method.stage_steps=1000"};
  const auto whole = test::run_cli(train_args(t, dir.file("whole"), 2, long_stages));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const int port = free_local_port();
  const std::vector<std::string> env{"MASTER_PORT=" + std::to_string(port), "CMBENCH_DIST_TIMEOUT=20", "CMBENCH_LAUNCH_GRACE=20"};
  auto run = start(train_args(t, dir.file("broken"), 2, long_stages), env, dir, "broken");
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir.file("broken/ckpt-00000040.h5")); }, std::chrono::seconds(120)));
  const pid_t victim = find_rank(port, 1);
  ASSERT_GT(victim, 0);
  const auto killed_at = std::chrono::steady_clock::now();
  kill(victim, SIGKILL);
  const int code = run.wait();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  const auto err = test::read_text(run.err);
  if (fs::exists(dir.file("broken/ckpt-00000400.h5"))) GTEST_SKIP() << "the run finished before the kill";
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("rank 1 was killed by signal 9"), std::string::npos) << err;
  EXPECT_NE(err.find("rank 0 of 2: all-reduce failed"), std::string::npos) << err;
  EXPECT_LT(seconds, 20.0);
  std::printf("the other rank stopped %.2f s after the kill\n", seconds);
  for (const auto& entry : fs::directory_iterator(dir.file("broken"))) {
    const auto name = entry.path().filename().string();
    EXPECT_FALSE(name.find(".tmp") != std::string::npos || name.find(".partial") != std::string::npos) << name;
    if (entry.path().extension() == ".h5") {
      EXPECT_NO_THROW(read_checkpoint(entry.path().string())) << name;
    }
  }
  fs::copy(dir.file("broken"), dir.file("broken-1"), fs::copy_options::recursive);

  ASSERT_EQ(test::run_cli(train_args(t, dir.file("broken"), 2, {"--resume", "--set", "method.stage_steps=1000"})).exit_code, 0);
  const auto end = "/ckpt-00000400.h5";
  for (const auto* group : {"model", "ema", "optimizer"})
    EXPECT_TRUE(torch::equal(flat_group(dir.file("broken") + end, group), flat_group(dir.file("whole") + end, group))) << group;

  const auto one = test::run_cli(train_args(t, dir.file("broken-1"), 1, {"--resume", "--set", "method.stage_steps=1000"}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_LE(relative(flat_group(dir.file("broken-1") + end, "model"), flat_group(dir.file("whole") + end, "model")), 1e-3);
}

// A rank that stops answering (SIGSTOP): the other's collective times out after CMBENCH_DIST_TIMEOUT
// and the launcher ends the stopped one; the run ends within the timeout plus the grace period.
TEST(DataParallel, HungRankTimesOut) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto t = write_config(dir, "ect", 100000, 50);
  const int port = free_local_port();
  const std::vector<std::string> env{"MASTER_PORT=" + std::to_string(port), "CMBENCH_DIST_TIMEOUT=3", "CMBENCH_LAUNCH_GRACE=2"};
  auto run = start(train_args(t, dir.file("hung"), 2, {"--set", "method.stage_steps=100000"}), env, dir, "hung");
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir.file("hung/ckpt-00000050.h5")); }, std::chrono::seconds(120)));
  const pid_t victim = find_rank(port, 1);
  ASSERT_GT(victim, 0);
  const auto stopped_at = std::chrono::steady_clock::now();
  kill(victim, SIGSTOP);
  const int code = run.wait();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  const auto err = test::read_text(run.err);
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("did not answer within 3 s"), std::string::npos) << err;
  EXPECT_NE(err.find("rank 1 did not stop; killing it"), std::string::npos) << err;
  EXPECT_LT(seconds, 30.0);
  std::printf("the run ended %.2f s after rank 1 hung (timeout 3 s, grace 2 s)\n", seconds);
}

// Sharded sampling: 2 and 3 ranks make batches 0, 2, 4 / 1, 3 (round robin) of 11 seeds in batches
// of 3; the .npz (gathered in seed order) and every PNG are byte-identical to one process's.
TEST(ShardedSampling, RanksWriteTheSameFilesAsOneProcess) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto t = write_config(dir, "ect", 2, 0, /*channels=*/3);
  ASSERT_EQ(test::run_cli(train_args(t, dir.file("run"), 1)).exit_code, 0);
  const auto ckpt = dir.file("run/ckpt-00000002.h5");
  const auto sample = [&](int nproc, const std::string& out) {
    std::vector<std::string> args;
    if (nproc > 1) args = {"--nproc", std::to_string(nproc)};
    args.insert(args.end(), {"sample", "--ckpt", ckpt, "--num", "11", "--batch", "3", "--steps", "2", "--seeds", "5-15",
                             "--raw", "--device", "cpu", "--out", out});
    const auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };
  sample(1, dir.file("one.npz"));
  for (int nproc : {2, 3}) {
    const auto r = sample(nproc, dir.file("many.npz"));
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '{'), 1) << "only rank 0 prints the summary";
    EXPECT_EQ(test::read_text(dir.file("many.npz")), test::read_text(dir.file("one.npz"))) << nproc << " ranks";
  }
  sample(1, dir.file("one"));
  sample(2, dir.file("two"));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.file("one"))) {
    const auto other = dir.file("two/" + entry.path().filename().string());
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_EQ(test::read_text(entry.path().string()), test::read_text(other));
    ++files;
  }
  EXPECT_EQ(files, 11u);
}

// A suite (EDM teacher, then ECT from it; SWD, FID and IS at NFE 1 and 2 on 12 seeds in batches of
// 4, so each rank samples and runs Inception batches, the reference's features included) run by
// `cmbench --nproc 2 run` stores the same runs, curves and evaluation rows as one process: values
// equal up to the rounding of data-parallel training (bounds 1e-5 on the logged losses, 1e-4 on the
// metrics; the figures are printed).
TEST(DataParallel, SuiteRunOnTwoRanksStoresTheOneProcessResults) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto reference = test::write_reference_images(dir);
  const auto suite = dir.file("suite.toml");
  // Without dropout: its masks are the one draw made per rank.
  test::write_text(suite, test::tiny_suite_head("dp", 5, "dropout = 0.0\n") + test::teacher_then_ect_stages(2, 4) +
                              test::tiny_swd_evaluation(12, reference, 4, "synthetic:0"));
  const auto one = test::run_cli({"run", suite, "--out", dir.file("one")});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto two = test::run_cli({"--nproc", "2", "run", suite, "--out", dir.file("two")});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const auto header = one.out.substr(0, one.out.find('\n'));
  ASSERT_FALSE(header.empty());
  size_t tables = 0;
  for (auto at = two.out.find(header); at != std::string::npos; at = two.out.find(header, at + 1)) ++tables;
  EXPECT_EQ(tables, 1u) << "rank 0 alone prints the table:\n" << two.out;
  const auto a = results::read_store(dir.file("one/results.h5")), b = results::read_store(dir.file("two/results.h5"));
  ASSERT_EQ(a.runs.size(), 2u);
  ASSERT_EQ(b.runs.size(), a.runs.size());
  double worst_loss = 0, worst_metric = 0;
  for (size_t i = 0; i < a.runs.size(); ++i) {
    const auto &ra = a.runs[i], &rb = b.runs[i];
    EXPECT_EQ(ra.stage, rb.stage);
    EXPECT_EQ(ra.images_seen, rb.images_seen);
    auto config_b = rb.config_json;  // the same, but for the output folder in train.init
    for (auto at = config_b.find("/two/"); at != std::string::npos; at = config_b.find("/two/")) config_b.replace(at, 5, "/one/");
    EXPECT_EQ(ra.config_json, config_b);
    ASSERT_EQ(ra.curve.size(), rb.curve.size()) << ra.stage;
    for (size_t k = 0; k < ra.curve.size(); ++k) worst_loss = std::max(worst_loss, relative(rb.curve[k].loss, ra.curve[k].loss));
    ASSERT_EQ(ra.evaluations.size(), rb.evaluations.size()) << ra.stage;
    for (size_t k = 0; k < ra.evaluations.size(); ++k) {
      const auto &ea = ra.evaluations[k], &eb = rb.evaluations[k];
      EXPECT_EQ(std::tie(ea.step, ea.nfe, ea.metric, ea.num_samples, ea.seed_set),
                std::tie(eb.step, eb.nfe, eb.metric, eb.num_samples, eb.seed_set));
      worst_metric = std::max(worst_metric, relative(eb.value, ea.value));
    }
    EXPECT_EQ(ra.grids.size(), rb.grids.size());
  }
  EXPECT_LE(worst_loss, 1e-5);
  EXPECT_LE(worst_metric, 1e-4);
  size_t fid_rows = 0;
  for (const auto& run : b.runs)
    for (const auto& row : run.evaluations) fid_rows += row.metric == "fid";
  EXPECT_EQ(fid_rows, 3u) << "FID at NFE 3 (teacher), 1 and 2 (ECT)";
  std::printf("suite on 2 ranks vs 1: worst logged loss %.2e, worst metric %.2e (relative)\n", worst_loss, worst_metric);
}

// `cmbench fid`, `is`, `swd` and `stats` on 2 or 3 ranks (Inception batches of 5 shared out round
// robin, features gathered in order): the same values as one process, to 1e-9 relative (measured:
// equal), and the same statistics file.
TEST(ShardedMetrics, FidIsSwdAndStatsEqualOneProcess) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto a = test::write_reference_images(dir);
  auto other = torch::randint(0, 256, {12, 16, 16, 3}, torch::TensorOptions().dtype(torch::kUInt8));
  const auto b = dir.file("b.npy");
  write_npy(b, from_tensor(other));
  const std::vector<std::string> detector{"--weights", "synthetic:0", "--batch", "5", "--json"};
  const auto values = [&](int nproc, std::vector<std::string> args) {
    std::vector<std::string> all;
    if (nproc > 1) all = {"--nproc", std::to_string(nproc)};
    all.insert(all.end(), args.begin(), args.end());
    if (args[0] != "swd") all.insert(all.end(), detector.begin(), detector.end());  // SWD reads pixels only
    if (args[0] == "swd") all.push_back("--json");
    const auto r = test::run_cli(all);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
  };
  // 3 ranks for FID (4 batches: rank 0 makes two of them), 2 for IS and SWD.
  const std::vector<std::pair<int, std::vector<std::string>>> commands{
      {3, {"fid", a, b}}, {2, {"is", a, "--splits", "2"}}, {2, {"swd", a, b}}};
  for (const auto& [ranks, command] : commands) {
    const auto one = values(1, command);
    for (int nproc : {ranks}) {
      const auto many = values(nproc, command);
      for (const auto& [key, value] : one.items()) {
        if (!value.is_number_float()) continue;
        ASSERT_TRUE(many.contains(key)) << command[0] << " " << key;
        EXPECT_LE(relative(many[key].get<double>(), value.get<double>()), 1e-9) << command[0] << " " << key << " " << nproc;
      }
    }
  }
  const auto stats = [&](int nproc, const std::string& out) {
    std::vector<std::string> args;
    if (nproc > 1) args = {"--nproc", std::to_string(nproc)};
    args.insert(args.end(), {"stats", "--input", b, "--out", out, "--weights", "synthetic:0", "--batch", "5"});
    const auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  stats(1, dir.file("one.npz"));
  stats(2, dir.file("two.npz"));
  EXPECT_EQ(test::read_text(dir.file("two.npz")), test::read_text(dir.file("one.npz")));
}

TEST(DataParallel, UnreachableRendezvousAndUnevenBatchAreOneLine) {
  if (!multi_process_available()) GTEST_SKIP() << "built without c10d Gloo (libgloo-dev)";
  test::TempDir dir;
  const auto t = write_config(dir, "ect", 2, 0);
  const auto port = std::to_string(free_local_port());
  const auto lonely = test::run_cli(train_args(t, dir.file("lonely"), 1),
                                    {"RANK=1", "WORLD_SIZE=2", "LOCAL_RANK=1", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port,
                                     "CMBENCH_DIST_TIMEOUT=2"});
  EXPECT_EQ(lonely.exit_code, 2);
  EXPECT_NE(lonely.err.find("could not reach the rendezvous at 127.0.0.1:" + port), std::string::npos) << lonely.err;

  const auto uneven = test::run_cli(train_args(t, dir.file("uneven"), 3));
  EXPECT_EQ(uneven.exit_code, 2);
  EXPECT_NE(uneven.err.find("train.batch: 64 images do not split evenly over 3 ranks"), std::string::npos) << uneven.err;
}

}  // namespace
}  // namespace cmbench
