// The command-line contract of `cmbench report` and `cmbench findings`: options, exit codes, and
// one-line errors that name the file (the pages and the findings themselves: test_results_report.cpp,
// test_results_findings.cpp, which write their stores with the results library).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "test_util.h"

using cmbench::test::run_cli;

TEST(CliReport, HelpListsTheOptions) {
  auto r = run_cli({"report", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"--out", "--suite", "--title"}) EXPECT_NE(r.out.find(option), std::string::npos) << option;
  r = run_cli({"findings", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"--suite", "--json", "--strict"}) EXPECT_NE(r.out.find(option), std::string::npos) << option;
  r = run_cli({"--help"});
  EXPECT_NE(r.out.find("\n  report "), std::string::npos);
  EXPECT_NE(r.out.find("\n  findings "), std::string::npos);
}

TEST(CliReport, BadInputIsOneLineExitTwoAndWritesNothing) {
  cmbench::test::TempDir dir;
  const auto out = dir.file("report.html");
  EXPECT_EQ(run_cli({"report", dir.file("absent.h5")}).exit_code, 2);  // --out is required
  auto r = run_cli({"report", dir.file("absent.h5"), "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir.file("absent.h5") + ": no such result store"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  const auto text = dir.file("text.h5");
  cmbench::test::write_text(text, "not a store\n");
  r = run_cli({"report", text, "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(text + ": not an HDF5 file"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  r = run_cli({"findings", text});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(text + ": not an HDF5 file"), std::string::npos) << r.err;
  r = run_cli({"findings", text, "--suite", dir.file("absent.toml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
