// The command-line contract of DESIGN.md: every subcommand exists with --help, exit codes.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

using cmbench::test::run_cli;

TEST(Cli, HelpListsEverySubcommand) {
  const auto result = run_cli({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* name : {"data", "net", "train", "sample", "fid", "is", "swd", "frechet", "features", "stats",
                           "selftest", "run", "table", "compare"}) {
    EXPECT_NE(result.out.find(std::string("\n  ") + name + " "), std::string::npos) << name;
  }
}

TEST(Cli, HelpAtEveryLevel) {
  const std::vector<std::vector<std::string>> commands = {
      {"data"}, {"data", "fetch"}, {"data", "verify"}, {"data", "info"}, {"data", "convert"},
      {"net"}, {"net", "info"}, {"train"}, {"sample"}, {"fid"}, {"is"}, {"swd"}, {"frechet"},
      {"features"}, {"stats"}, {"selftest"}, {"selftest", "losses"}, {"selftest", "inception"},
      {"selftest", "optimizers"}, {"run"}, {"table"}, {"compare"}};
  // What cmbench controls, not how CLI11 lays help out (2.6 dropped "Usage:" and capitalized headings):
  // exit 0, the command's name, and its --help option listed.
  for (auto args : commands) {
    const std::string name = args.back();
    args.push_back("--help");
    const auto result = run_cli(args);
    EXPECT_EQ(result.exit_code, 0) << name;
    EXPECT_NE(result.out.find(name), std::string::npos) << name << ":\n" << result.out;
    EXPECT_NE(result.out.find("--help"), std::string::npos) << name << ":\n" << result.out;
  }
}

TEST(Cli, VersionNamesCodeTorchAndDevice) {
  const auto result = run_cli({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("cmbench "), std::string::npos);
  EXPECT_NE(result.out.find("LibTorch "), std::string::npos);
  EXPECT_NE(result.out.find("device "), std::string::npos);
}

TEST(Cli, BadUsageExits2) {
  EXPECT_EQ(run_cli({}).exit_code, 2);
  EXPECT_EQ(run_cli({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(run_cli({"frechet", "only_one.npz"}).exit_code, 2);
  EXPECT_EQ(run_cli({"fid", "a", "b", "--mode", "matlab"}).exit_code, 2);
  EXPECT_EQ(run_cli({"run", "suite.toml", "--resume", "--force"}).exit_code, 2);
  EXPECT_EQ(run_cli({"sample", "--ckpt", "x.h5", "--num", "0", "--out", "o"}).exit_code, 2);
  const auto level = run_cli({"--log-level", "loud", "frechet", "a.npz", "b.npz"});
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_NE(level.err.find("log level 'loud'"), std::string::npos) << level.err;
}

// Started by torchrun or srun as several ranks, the commands that write files stop on every rank
// with one line (multi-process runs arrive with issue 13); one rank is an ordinary run.
TEST(Cli, MultiProcessLaunchIsRefusedWithOneLine) {
  cmbench::test::TempDir dir;
  cmbench::test::write_text(dir.file("t.toml"), "[method]\nname = \"edm\"\n[net]\narch = \"mlp\"\nimg_channels = 2\n"
                                       "img_resolution = 1\n[data]\nsource = \"gaussian\"\n[train]\nsteps = 1\nbatch = 2\n");
  const std::vector<std::string> torchrun{"WORLD_SIZE=2", "RANK=1", "LOCAL_RANK=1", "MASTER_ADDR=127.0.0.1",
                                          "MASTER_PORT=29511"};
  const auto train = cmbench::test::run_cli({"train", "--config", dir.file("t.toml"), "--out", dir.file("run")}, torchrun);
  EXPECT_EQ(train.exit_code, 2) << train.err;
  EXPECT_NE(train.err.find("cmbench train: started as rank 1 of 2 (torchrun"), std::string::npos) << train.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("run")));
  const auto srun = cmbench::test::run_cli({"sample", "--ckpt", dir.file("none.h5"), "--num", "2", "--out", dir.file("s.npz")},
                                  {"SLURM_STEP_NUM_TASKS=2", "SLURM_PROCID=0", "SLURM_JOB_NODELIST=localhost"});
  EXPECT_EQ(srun.exit_code, 2) << srun.err;
  EXPECT_NE(srun.err.find("cmbench sample: started as rank 0 of 2 (slurm"), std::string::npos) << srun.err;

  const auto one = cmbench::test::run_cli({"train", "--config", dir.file("t.toml"), "--out", dir.file("one")},
                                 {"WORLD_SIZE=1", "RANK=0"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
}
