// The command-line contract of DESIGN.md: every subcommand exists with --help, exit codes.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

using cmbench::test::run_cli;

TEST(Cli, HelpListsEverySubcommand) {
  const auto result = run_cli({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* name : {"data", "net", "train", "sample", "fid", "is", "swd", "kid", "pr", "frechet", "features", "stats",
                           "selftest", "run", "table", "compare", "pack"}) {
    EXPECT_NE(result.out.find(std::string("\n  ") + name + " "), std::string::npos) << name;
  }
}

TEST(Cli, HelpAtEveryLevel) {
  const std::vector<std::vector<std::string>> commands = {
      {"data"}, {"data", "fetch"}, {"data", "verify"}, {"data", "info"}, {"data", "convert"},
      {"net"}, {"net", "info"}, {"train"}, {"sample"}, {"fid"}, {"is"}, {"swd"}, {"kid"}, {"pr"}, {"frechet"},
      {"features"}, {"stats"}, {"selftest"}, {"selftest", "losses"}, {"selftest", "inception"},
      {"selftest", "optimizers"}, {"run"}, {"table"}, {"compare"}, {"pack"}};
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
// --nproc inside an already launched rank, or with a count that is not one, is one line (exit 2).
TEST(Cli, NprocIsCheckedBeforeAnyWorkerStarts) {
  const std::vector<std::string> torchrun{"WORLD_SIZE=2", "RANK=1", "LOCAL_RANK=1", "MASTER_ADDR=127.0.0.1",
                                          "MASTER_PORT=29511"};
  const auto nested = cmbench::test::run_cli({"--nproc", "2", "run", cmbench::test::source_path("suites/ci.toml")}, torchrun);
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_NE(nested.err.find("--nproc 2: this process is already rank 1 of 2"), std::string::npos) << nested.err;
  const auto bad = cmbench::test::run_cli({"--nproc", "zero", "train"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--nproc: 'zero' is not a positive process count"), std::string::npos) << bad.err;
  const auto missing = cmbench::test::run_cli({"train", "--nproc"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--nproc: needs a process count"), std::string::npos) << missing.err;
}
