// `cmbench run --slurm` without a cluster: the job script of each stage (sbatch options, the srun
// line every rank runs, the stages it waits for, stages already stored skipped), the dry run, and
// the one line a missing sbatch gives. ci/slurm-check runs the same through a real local Slurm.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "harness/slurm.h"
#include "harness/suite.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;

std::string three_stage_suite(const std::string& reference) {
  return test::tiny_suite_head("slurmy", 2) + test::teacher_then_ect_stages(2, 2) + R"(
[stages.ct]
method = "ct"
steps = 2
options = { preset = "cifar10" }
)" + test::tiny_swd_evaluation(4, reference);
}

TEST(Slurm, EachStageIsOneJobAfterTheStagesItNeeds) {
  test::TempDir dir;
  const auto suite = parse_suite(three_stage_suite(test::write_reference_images(dir)), "three.toml");
  SlurmOptions o;
  o.partition = "gpu";
  o.nodes = 2;
  o.tasks_per_node = 8;
  o.gpus_per_node = 8;
  o.time = "1-00:00:00";
  o.program = "/opt/cm bench/cmbench";
  o.device = "cuda";
  const auto jobs = plan_slurm_jobs(suite, "suites/three.toml", dir.file("out"), o, {});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].stage, "teacher");
  EXPECT_TRUE(jobs[0].after.empty());
  EXPECT_EQ(jobs[1].stage, "ect");
  EXPECT_EQ(jobs[1].after, std::vector<std::string>{"teacher"});
  EXPECT_TRUE(jobs[2].after.empty());
  EXPECT_EQ(jobs[1].script_path, dir.file("out/slurm/ect.sbatch"));
  const auto& s = jobs[1].script;
  for (const auto* line : {"#SBATCH --job-name=cmbench-slurmy-ect\n", "#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=8\n",
                           "#SBATCH --gpus-per-node=8\n", "#SBATCH --partition=gpu\n", "#SBATCH --time=1-00:00:00\n"})
    EXPECT_NE(s.find(line), std::string::npos) << line << s;
  EXPECT_EQ(s.find("--account"), std::string::npos);
  const auto srun = "srun --kill-on-bad-exit=1 '/opt/cm bench/cmbench' run '" + fs::absolute("suites/three.toml").string() +
                    "' --out '" + dir.file("out") + "' --resume --only 'ect' --device 'cuda'\n";
  EXPECT_NE(s.find(srun), std::string::npos) << s;

  // A stored teacher gets no job, and ECT then waits for nothing.
  const auto rest = plan_slurm_jobs(suite, "suites/three.toml", dir.file("out"), o, {"teacher"});
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].stage, "ect");
  EXPECT_TRUE(rest[0].after.empty());
  o.nodes = 0;
  EXPECT_THROW(plan_slurm_jobs(suite, "x.toml", dir.file("out"), o, {}), InputError);
}

TEST(Slurm, DryRunPrintsTheScriptsAndAMissingSbatchIsOneLine) {
  test::TempDir dir;
  const auto suite = dir.file("three.toml");
  test::write_text(suite, three_stage_suite(test::write_reference_images(dir)));
  const auto dry = test::run_cli({"run", suite, "--out", dir.file("out"), "--slurm", "--dry-run", "--tasks-per-node", "2"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("# " + dir.file("out/slurm/ect.sbatch") + " (after teacher)"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("#SBATCH --ntasks-per-node=2"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.file("out"))) << "a dry run writes nothing";

  const auto no_slurm = test::run_cli({"run", suite, "--partition", "gpu"});
  EXPECT_EQ(no_slurm.exit_code, 2);
  EXPECT_NE(no_slurm.err.find("--partition requires --slurm"), std::string::npos) << no_slurm.err;

  const auto missing = test::run_cli({"run", suite, "--out", dir.file("out"), "--slurm"}, {"PATH=/nonexistent"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("teacher.sbatch: sbatch failed"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace cmbench
