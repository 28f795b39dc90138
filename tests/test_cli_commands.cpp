// The command-line contract of DESIGN.md: every subcommand exists with --help, exit codes.
#include <gtest/gtest.h>

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
